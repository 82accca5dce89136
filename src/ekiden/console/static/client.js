// The console JSON API client (/console/api/...): one fetch wrapper, errors as ApiError.
// (Named client.js, not api.js, so no router matching the "/console/api" prefix takes it.)
// Contract: every error body is {"error": {"code", "message"}} with an HTTP status.

const BASE = "/console/api";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code);
    this.status = status;
    this.code = code;
  }
}

/** Call METHOD PATH (relative to /console/api) with an optional JSON body; resolve to the
 *  parsed JSON answer, reject with ApiError (network failures get status 0). */
export async function api(method, path, body) {
  const init = { method, headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(BASE + path, init);
  } catch (err) {
    throw new ApiError(0, "NetworkError", `The server could not be reached (${err.message}).`);
  }
  const text = await response.text();
  let data = {};
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      throw new ApiError(response.status, "BadResponse", `Unexpected answer: ${text.slice(0, 200)}`);
    }
  }
  if (!response.ok) {
    const error = (data && data.error) || {};
    throw new ApiError(response.status, error.code || `HTTP${response.status}`, error.message || response.statusText);
  }
  return data;
}

/** A queue's path segment: names are [A-Za-z0-9_-] (+ .fifo) but encode anyway. */
export const q = (name) => `/queues/${encodeURIComponent(name)}`;
