/**
 * Parses CloudFormation YAML with its short-form intrinsic tags (`!Ref`, `!Sub`, `!GetAtt`, `!If`
 * …) into the JSON form CloudFormation itself uses (`{"Ref": …}`, `{"Fn::Sub": …}`).
 */
import { readFileSync } from 'node:fs'
import { parse, type CollectionTag, type ScalarTag, type YAMLMap, type YAMLSeq } from 'yaml'

const FUNCTIONS = ['And', 'Base64', 'Cidr', 'Equals', 'FindInMap', 'GetAZs', 'If', 'ImportValue', 'Join', 'Not', 'Or', 'Select', 'Split', 'Sub', 'Transform', 'ToJsonString', 'Length']

function tagsFor(tag: string, wrap: (value: unknown) => unknown): Array<ScalarTag | CollectionTag> {
  return [
    { tag, resolve: (value: string) => wrap(value) } as ScalarTag,
    { tag, collection: 'seq', resolve: (value: YAMLSeq) => wrap(value.toJSON()) } as unknown as CollectionTag,
    { tag, collection: 'map', resolve: (value: YAMLMap) => wrap(value.toJSON()) } as unknown as CollectionTag,
  ]
}

export const CFN_TAGS: Array<ScalarTag | CollectionTag> = [
  ...tagsFor('!Ref', (value) => ({ Ref: value })),
  ...tagsFor('!Condition', (value) => ({ Condition: value })),
  ...tagsFor('!GetAtt', (value) => ({ 'Fn::GetAtt': typeof value === 'string' ? value.split(/\.(.*)/s).slice(0, 2) : value })),
  ...FUNCTIONS.flatMap((name) => tagsFor(`!${name}`, (value) => ({ [`Fn::${name}`]: value }))),
]

export type Template = {
  Transform?: string | string[]
  Parameters?: Record<string, Record<string, unknown>>
  Conditions?: Record<string, unknown>
  Mappings?: Record<string, unknown>
  Globals?: Record<string, Record<string, unknown>>
  Resources: Record<string, { Type: string; Properties?: Record<string, unknown>; Metadata?: Record<string, unknown>; Condition?: string; DependsOn?: string | string[] }>
  Outputs?: Record<string, { Value: unknown; Description?: string }>
}

export function parseCfnYaml(text: string): Template {
  return parse(text, { customTags: CFN_TAGS, strict: true, uniqueKeys: true }) as Template
}

export function readTemplate(file: string): Template {
  return parseCfnYaml(readFileSync(file, 'utf8'))
}
