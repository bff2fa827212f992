// The only place that talks to the EduPro API. Every failure becomes an ApiError whose message says what
// happened in words and whose `action` says what the person can do about it.

export class ApiError extends Error {
  constructor(status, message, action) {
    super(message);
    this.status = status;
    this.action = action; // "sign-in" | "home" | "retry"
  }
}

function failure(status, retryAfter) {
  if (status === 401) return new ApiError(401, "Your session has ended. Please sign in again.", "sign-in");
  if (status === 403) return new ApiError(403, "This page is not open to your role.", "home");
  if (status === 404) return new ApiError(404, "That record does not exist, or it is not yours to see.", "home");
  if (status === 429) {
    const wait = retryAfter ? ` (about ${retryAfter} seconds)` : "";
    return new ApiError(429, `Too many requests in a minute. Wait a little${wait}, then try again.`, "retry");
  }
  return new ApiError(status, "EduPro's server is not answering right now. Try again in a moment.", "retry");
}

export async function logIn(username, password) {
  const body = new URLSearchParams({ username, password });
  let response;
  try {
    response = await fetch("/api/v1/login/access-token", { method: "POST", body });
  } catch {
    throw failure(0);
  }
  if (response.status === 401) throw new ApiError(401, "Wrong user name or password.", "retry");
  if (!response.ok) throw failure(response.status, response.headers.get("Retry-After"));
  const { access_token } = await response.json();
  const role = JSON.parse(atob(access_token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/"))).role;
  return { token: access_token, role };
}

export async function api(token, path, { method = "GET", json } = {}) {
  const options = { method, headers: { Authorization: `Bearer ${token}` } };
  if (json !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(json);
  }
  let response;
  try {
    response = await fetch(path, options);
  } catch {
    throw failure(0); // the network or the server is down
  }
  if (!response.ok) throw failure(response.status, response.headers.get("Retry-After"));
  return response.json();
}

export function download(filename, data) {
  const url = URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], { type: "application/json" }));
  const link = Object.assign(document.createElement("a"), { href: url, download: filename });
  document.body.append(link);
  link.click();
  link.remove();
  URL.revokeObjectURL(url);
}
