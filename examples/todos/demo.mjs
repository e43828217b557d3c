// The walkthrough with supabase-js: sign up two users, add todos, read what RLS allows.
//   SUPABASE_URL=http://localhost:5050 SUPABASE_ANON_KEY=<anon key> node examples/todos/demo.mjs
import { createClient } from '@supabase/supabase-js'

const url = process.env.SUPABASE_URL ?? 'http://localhost:5050'
const anonKey = process.env.SUPABASE_ANON_KEY
if (!anonKey) throw new Error('set SUPABASE_ANON_KEY to the anon key printed by npm start')
// Node 20 has no WebSocket; realtime is not used here.
const options = { auth: { persistSession: false }, realtime: { transport: class {} } }

async function signedIn(email) {
  const client = createClient(url, anonKey, options)
  const password = 'correct horse battery staple'
  const { error } = await client.auth.signUp({ email, password })
  if (error && error.code !== 'user_already_exists') throw error
  const signIn = await client.auth.signInWithPassword({ email, password })
  if (signIn.error) throw signIn.error
  return client
}

const suffix = Date.now()
const alice = await signedIn(`alice+${suffix}@example.com`)
const bob = await signedIn(`bob+${suffix}@example.com`)

// Objects of one bulk insert share their keys (a missing key would be NULL, as with PostgREST).
const inserted = await alice.from('todos').insert([{ task: 'buy milk', is_public: false }, { task: 'say hello', is_public: true }])
if (inserted.error) throw inserted.error
await bob.from('todos').insert({ task: "bob's secret" })

console.log('alice sees', (await alice.from('todos').select('task, is_public').order('id')).data)
console.log('bob sees  ', (await bob.from('todos').select('task, is_public').order('id')).data)
const anon = createClient(url, anonKey, options)
console.log('anon sees ', (await anon.from('todos').select('task').order('id')).data)

// A policy refuses a row that would belong to someone else: 403 with PostgreSQL's 42501.
const { data: me } = await bob.auth.getUser()
const forged = await alice.from('todos').insert({ task: 'as bob', user_id: me.user.id })
console.log('forged insert →', forged.status, forged.error?.code, forged.error?.message)

await alice.from('todos').update({ is_complete: true }).eq('task', 'buy milk')
console.log('alice stats', (await alice.rpc('todo_stats').single()).data)
