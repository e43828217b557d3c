/**
 * Realtime's limits, with Supabase Realtime's defaults and wording. Per connection here (one
 * process has no tenants): channels joined at once, joins per second, a message's size, presence
 * entries per topic, and how much may wait unsent for a slow client before it is dropped.
 * @module
 */
export const LIMITS = {
  /** Realtime's `max_channels_per_client`. */
  channelsPerConnection: 100,
  /** Joins per second on one connection (Realtime counts 100 per tenant; one process has none). */
  joinsPerSecond: 200,
  /** Realtime's `max_payload_size_in_kb` (3000 KB): a broadcast or presence payload. */
  payloadBytes: 3000 * 1024,
  /** A WebSocket frame; larger ones close the connection (1009) before they are read whole. */
  frameBytes: 4 * 1024 * 1024,
  /** Presence entries one topic holds, across every node. */
  presencePerTopic: 10_000,
  /** Bytes queued on a socket the client does not read: past this it is closed, not buffered. */
  slowConsumerBytes: 8 * 1024 * 1024,
  /** Token checks happen at least this often (Realtime's `confirm_token` interval). */
  confirmTokenMs: 5 * 60_000,
} as const

export const MESSAGES = {
  tooManyChannels: 'ChannelRateLimitReached: Too many channels',
  tooManyJoins: 'ClientJoinRateLimitReached: Too many joins per second',
  topicRequired: 'TopicNameRequired: You must provide a topic name',
  unmatchedTopic: 'unmatched topic',
  payloadTooLarge: 'Payload size exceeded',
  trackTooLarge: 'Track message size exceeded',
  trackNotMap: 'Presence track payload must be a map',
  tooManyPresences: 'Too many presence entries in this channel',
  slowConsumer: 'slow consumer: messages were not read in time',
} as const
