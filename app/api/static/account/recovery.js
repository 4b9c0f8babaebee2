// The pages that recovery links open (/account/reset, /account/verify). The token comes in the
// URL fragment, which browsers never send to a server; it is read once, kept in this module's
// memory only, and taken off the address bar so it stays out of the history.

const UNREACHABLE = "keygate could not be reached. Check your connection and try again.";
const DEAD_LINK =
  "This link does not work any more: it was used, it expired, or a newer one was sent. " +
  "Ask for a new one.";

// One page for both links: the last part of the path names the section to show.
const part = document.getElementById(window.location.pathname.split("/").pop());
if (part?.tagName === "SECTION") {
  part.hidden = false;
  document.title = `${part.querySelector("h1").textContent} - keygate`;
}

const token = new URLSearchParams(window.location.hash.slice(1)).get("token") ?? "";
window.history.replaceState(null, "", window.location.pathname);

function sentence(text) {
  const trimmed = String(text).trim();
  const capital = trimmed.charAt(0).toUpperCase() + trimmed.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}

async function post(path, json) {
  let response;
  try {
    response = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(json),
      credentials: "omit",
      cache: "no-store",
    });
  } catch {
    throw new Error(UNREACHABLE);
  }
  if (response.ok) return;
  let body = null;
  try {
    body = await response.json();
  } catch {
    // not JSON: the status alone says it
  }
  if (response.status === 400) throw new Error(DEAD_LINK);
  if (Array.isArray(body?.detail)) {
    // The policy speaks of "password"; on this page it is the new one.
    const messages = body.detail.map((item) =>
      sentence(String(item?.msg ?? "is not valid").replace(/^Value error, /, "")
        .replace(/^password\b/, "New password")),
    );
    throw new Error(messages.join(" "));
  }
  if (typeof body?.detail === "string") throw new Error(sentence(body.detail));
  throw new Error(`That did not work (HTTP ${response.status}). Please try again.`);
}

function handle(id, work) {
  const form = document.getElementById(id);
  if (!form) return;
  const error = form.querySelector("[data-error]");
  const ok = form.querySelector("[data-ok]");
  if (!token) {
    error.textContent = "This page opens from a link in a message from keygate.";
    form.querySelector("button[type=submit]").disabled = true;
    return;
  }
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (form.getAttribute("aria-busy") === "true") return;
    form.setAttribute("aria-busy", "true");
    error.textContent = "";
    ok.textContent = "";
    try {
      ok.textContent = await work(form);
    } catch (failed) {
      error.textContent = failed.message;
    } finally {
      form.removeAttribute("aria-busy");
    }
  });
}

handle("reset-form", async (form) => {
  const password = form.elements.new_password.value;
  if (!password) throw new Error("Enter a new password.");
  await post("/users/password-reset/confirm", { token, new_password: password });
  form.reset();
  form.querySelector("button[type=submit]").disabled = true;
  document.getElementById("reset-done").hidden = false;
  return "Your password is set. Every session of your account has ended.";
});

handle("verify-form", async (form) => {
  await post("/users/email-verification/confirm", { token });
  form.querySelector("button[type=submit]").disabled = true;
  return "Your email address is verified.";
});
