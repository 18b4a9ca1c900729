// The pages' link to the public GraphQL API: the caller's own token, one request per action.
// Nothing here holds a privilege of its own; every value shown comes from the API.

const TOKEN_KEY = "gateway-token";

// The token arrives in the fragment (#token=...), which browsers never send to a server; it is
// kept for this tab only and removed from the address bar at once.
export function token() {
  const match = /(?:^|&)token=([^&]+)/.exec(location.hash.slice(1));
  if (match) {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(match[1]));
    history.replaceState(null, "", location.pathname + location.search);
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(value) {
  sessionStorage.setItem(TOKEN_KEY, value.trim());
}

export function signOut() {
  sessionStorage.removeItem(TOKEN_KEY);
}

export class ApiError extends Error {}

export async function gql(query, variables = {}) {
  const headers = {
    "content-type": "application/json",
    accept: "application/graphql-response+json, application/json",
  };
  const bearer = token();
  if (bearer) headers.authorization = `Bearer ${bearer}`;
  const response = await fetch("/graphql", {
    method: "POST",
    headers,
    body: JSON.stringify({ query, variables }),
  });
  let body;
  try {
    body = await response.json();
  } catch {
    throw new ApiError(`The server answered ${response.status} without data.`);
  }
  if (body.errors && body.errors.length) {
    throw new ApiError(body.errors.map((e) => e.message).join(" "));
  }
  return body.data;
}

// Build DOM nodes; text always goes through textContent, never HTML.
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function replace(id, ...children) {
  const target = document.getElementById(id);
  target.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined));
  return target;
}

export function status(message, kind = "info") {
  const node = document.getElementById("status");
  node.textContent = message;
  node.dataset.kind = kind;
}

// The sign-in form shown when no token is present (for a person trying the page by hand).
export function signInForm(onDone) {
  const input = h("input", { id: "token-input", type: "password", autocomplete: "off", required: true });
  const form = h(
    "form",
    {
      class: "signin",
      onsubmit: (event) => {
        event.preventDefault();
        setToken(input.value);
        onDone();
      },
    },
    h("label", { for: "token-input", text: "Your access token" }),
    input,
    h("button", { type: "submit", text: "Continue" }),
  );
  return form;
}
