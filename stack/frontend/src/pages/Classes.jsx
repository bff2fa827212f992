// A teacher's classes (an administrator sees every class).
import React from "react";
import { Link } from "react-router";
import { Loading, Problem } from "../Problem.jsx";
import { useApi } from "../session.jsx";

export function Classes() {
  const classes = useApi("/api/v1/classes");
  if (classes.error) return <Problem error={classes.error} onRetry={classes.reload} />;
  if (!classes.data) return <Loading what="your classes" />;
  return (
    <>
      <h1>My classes</h1>
      {classes.data.length === 0 && <p>You teach no class yet.</p>}
      <ul className="cards">
        {classes.data.map((c) => (
          <li key={c.id}><Link to={`/classes/${c.id}`}>{c.name}</Link> — {c.students.length} students</li>
        ))}
      </ul>
    </>
  );
}
