// A failure in words, with the way forward: sign in again, go home, or try again.
import React from "react";
import { Link } from "react-router";
import { useSession } from "./session.jsx";

export function Problem({ error, onRetry }) {
  const { signOut } = useSession();
  return (
    <div role="alert" className="problem">
      <p>{error.message}</p>
      {error.action === "sign-in" && <button onClick={signOut}>Sign in again</button>}
      {error.action === "home" && <Link to="/">Back to my start page</Link>}
      {error.action === "retry" && onRetry && <button onClick={onRetry}>Try again</button>}
    </div>
  );
}

export function Loading({ what }) {
  return <p aria-live="polite">Loading {what}…</p>;
}
