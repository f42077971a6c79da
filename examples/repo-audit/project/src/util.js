export function slugify(s) {
  return s.toLowerCase().replace(/[^a-z0-9]+/g, "-"); // FIXME: trim leading and trailing dashes
}
