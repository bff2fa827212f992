import React, { useState } from "react";
import { logIn } from "../api.js";
import { useSession } from "../session.jsx";

export function Login() {
  const { signIn } = useSession();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  async function submit(event) {
    event.preventDefault();
    setError("");
    setBusy(true);
    try {
      signIn(await logIn(username, password));
    } catch (e) {
      setError(e.message);
    } finally {
      setBusy(false);
    }
  }
  return (
    <main>
      <h1>EduPro</h1>
      <form onSubmit={submit} aria-label="Sign in">
        <label htmlFor="username">User name</label>
        <input id="username" name="username" autoComplete="username" required value={username}
               onChange={(e) => setUsername(e.target.value)} />
        <label htmlFor="password">Password</label>
        <input id="password" name="password" type="password" autoComplete="current-password" required value={password}
               onChange={(e) => setPassword(e.target.value)} />
        <button type="submit" disabled={busy}>{busy ? "Signing in…" : "Sign in"}</button>
        {error && <p role="alert">{error}</p>}
      </form>
    </main>
  );
}
