/** A gateway's answer: its status, its body as text and, when that parses as JSON, parsed. */
export interface ApiAnswer {
  status: number;
  text: string;
  json: Record<string, unknown>;
  headers: Headers;
}

/** Calls `method path` on the gateway at `baseUrl`, with `body` as JSON when given. */
export async function callApi(
  baseUrl: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<ApiAnswer> {
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    ...(body === undefined
      ? {}
      : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json: json as Record<string, unknown>, headers: res.headers };
}
