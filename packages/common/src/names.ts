/**
 * The one rule for a name a user gives a task (coordinator TaskRequest.name) and its guest
 * (provisioner VmSpec.name): printable text that XML and libvirt can carry. Refused: C0 and C1
 * controls, DEL, line and paragraph separators, U+FFFE/U+FFFF (not XML characters) and lone UTF-16
 * surrogates (a JSON string may carry one; it is no character). Both yaml files carry this exact
 * pattern, so whatever the coordinator accepts, the provisioner accepts too.
 *
 * Written to mean the same with and without the regex `u` flag (ajv uses it, a browser's
 * `pattern` attribute too, other tools may not): the class excludes every surrogate code unit
 * and the second branch lets a well-formed pair (an emoji) back in.
 */
export const displayNamePattern =
  '^(?:[^\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029\\ud800-\\udfff\\ufffe\\uffff]|[\\ud800-\\udbff][\\udc00-\\udfff])+$';

const displayName = new RegExp(displayNamePattern, 'u');

/**
 * The one rule for a node id (a certificate's CN and SAN, PEP's nodeId, a lease's holder, a
 * removal): 1-64 of [A-Za-z0-9._-], starting with a letter or digit. `nodeIdSource` is the same
 * without anchors, for patterns that embed a node id.
 */
export const nodeIdSource = '[A-Za-z0-9][A-Za-z0-9._-]{0,63}';
export const nodeIdPattern = new RegExp(`^${nodeIdSource}$`);

/** True when `value` is a name under the rule, of 1 to `maxChars` characters (code points, as JSON Schema counts). */
export function isDisplayName(value: unknown, maxChars: number): value is string {
  if (typeof value !== 'string' || !displayName.test(value)) return false;
  return [...value].length <= maxChars;
}
