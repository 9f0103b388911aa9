/**
 * ETags in one form: without the surrounding double quotes (and without a weak `W/`
 * marker). S3 answers them quoted (`"9b2c…"`), as HTTP says, but servers differ in
 * what they compare an `If-Match` with: Ceph RGW compares it with the bare value, so
 * the quoted form always fails there, while AWS S3 and MinIO accept the bare form too.
 * So the store hands out bare etags and sends bare etags.
 */
export function bareEtag(etag: string): string {
  let value = etag.trim();
  if (value.startsWith('W/')) value = value.slice(2);
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
  return value;
}
