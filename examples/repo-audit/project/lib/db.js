const password = "hunter2";

export function connect() {
  return { connected: true, user: "app", password };
}
