/**
 * Sets members of a JSON object in its UTF-8 bytes, leaving every other byte as the client sent it.
 * The upstream body is the client's body with the model id (and, for chat streams, stream_options)
 * replaced. Re-serialising the parsed body instead, then encoding it again, would be one of the largest
 * costs of a long prompt's request, and would normalise numbers and escapes the client chose. Only the
 * top level is read (json-scan.ts).
 */
import { OPEN_BRACE, topLevelMembers, type JsonMember } from './json-scan.js';

/**
 * `json` must be valid JSON whose top level is an object (the gateway parsed it already). `members`
 * maps a member name to the JSON text of its new value. A member present several times is replaced
 * everywhere (parsers differ on which duplicate wins); a missing one is added first in the object.
 * `present`: the object's members as the body parser found them, so the body is not walked again.
 */
export function setJsonMembers(
  json: Buffer,
  members: Record<string, string>,
  present: JsonMember[] = topLevelMembers(json)?.members ?? [],
): Buffer {
  const open = json.indexOf(OPEN_BRACE) + 1;
  const found = new Set<string>();
  const parts: Buffer[] = [json.subarray(0, open), Buffer.alloc(0)]; // the second: members added, if any
  let copiedTo = open;
  for (const { name, valueStart, valueEnd } of present) {
    if (!Object.hasOwn(members, name)) continue;
    parts.push(json.subarray(copiedTo, valueStart), Buffer.from(members[name]!));
    copiedTo = valueEnd;
    found.add(name);
  }
  const added = Object.keys(members)
    .filter((name) => !found.has(name))
    .map((name) => `${JSON.stringify(name)}:${members[name]}`);
  if (added.length > 0) parts[1] = Buffer.from(added.join(',') + (present.length > 0 ? ',' : ''));
  parts.push(json.subarray(copiedTo));
  return Buffer.concat(parts);
}
