export function oldApi(value) {
  return newApi({ value });
}

export function newApi({ value }) {
  return { ok: true, value };
}
