// The HTTP client: bearer token, JSON in and out, errors as ApiError.
// A request that never reached the server (no network, timeout) throws NetworkError,
// which callers treat as "offline" — never as an answer.

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.detail || `HTTP ${status}`);
    this.name = "ApiError";
    this.status = status;
    this.body = body ?? {};
  }
}

export class NetworkError extends Error {
  constructor(message) {
    super(message);
    this.name = "NetworkError";
  }
}

const DEFAULT_TIMEOUT_MS = 8000;

export class Api {
  /** @param {() => string|null} token  reads the current token at each call */
  constructor(token, { base = "", onUnauthorized = null } = {}) {
    this.token = token;
    this.base = base;
    this.onUnauthorized = onUnauthorized;
  }

  async request(method, path, { json, form, timeout = DEFAULT_TIMEOUT_MS, raw = false } = {}) {
    const headers = {};
    const token = this.token();
    if (token) headers.Authorization = `Bearer ${token}`;
    let body;
    if (json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(json);
    } else if (form !== undefined) {
      body = form; // the browser sets the multipart boundary
    }
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeout);
    let response;
    try {
      response = await fetch(this.base + path, { method, headers, body, signal: controller.signal });
    } catch (error) {
      throw new NetworkError(error.name === "AbortError" ? "The server did not answer in time." : "No network.");
    } finally {
      clearTimeout(timer);
    }
    if (raw && response.ok) return response;
    let data = null;
    const type = response.headers.get("content-type") || "";
    if (type.includes("json")) {
      data = await response.json().catch(() => null);
    }
    if (!response.ok) {
      if (response.status === 401 && this.onUnauthorized) this.onUnauthorized();
      throw new ApiError(response.status, data);
    }
    return data;
  }

  get(path, options) {
    return this.request("GET", path, options);
  }

  post(path, json, options = {}) {
    return this.request("POST", path, { ...options, json });
  }

  postForm(path, form, options = {}) {
    return this.request("POST", path, { ...options, form, timeout: options.timeout ?? 60000 });
  }

  put(path, json, options = {}) {
    return this.request("PUT", path, { ...options, json });
  }

  patch(path, json, options = {}) {
    return this.request("PATCH", path, { ...options, json });
  }
}

/** Query string from an object, skipping empty values. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : "";
}
