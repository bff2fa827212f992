import React, { useEffect, useState } from "react";
import { createRoot } from "react-dom/client";
import { api, logIn } from "./api.js";
import "./style.css";

function LoginForm({ onToken }) {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState("");
  async function submit(event) {
    event.preventDefault();
    setError("");
    try {
      onToken(await logIn(username, password));
    } catch (e) {
      setError(e.message);
    }
  }
  return (
    <form onSubmit={submit} aria-label="log in">
      <h1>EduPro</h1>
      <label>User name <input name="username" value={username} onChange={(e) => setUsername(e.target.value)} /></label>
      <label>Password <input name="password" type="password" value={password} onChange={(e) => setPassword(e.target.value)} /></label>
      <button type="submit">Log in</button>
      {error && <p role="alert">{error}</p>}
    </form>
  );
}

function StudentView({ token }) {
  const [record, setRecord] = useState(null);
  const [prediction, setPrediction] = useState(null);
  const [error, setError] = useState("");
  useEffect(() => {
    (async () => {
      try {
        const me = await api(token, "/api/v1/students/me");
        setRecord(me);
        setPrediction(await api(token, "/api/v1/predictions", { student_id: me.id }));
      } catch (e) {
        setError(e.message);
      }
    })();
  }, [token]);
  if (error) return <p role="alert">{error}</p>;
  if (!record) return <p>Loading your record…</p>;
  return (
    <section aria-label="my record">
      <h2>{record.name}</h2>
      <p>Student number {record.student_no}, school {record.school}{record.synthetic && " (synthetic identity)"}</p>
      <table>
        <tbody>
          <tr><th>G1</th><td>{record.grades?.G1}</td></tr>
          <tr><th>G2</th><td>{record.grades?.G2}</td></tr>
          <tr><th>G3</th><td>{record.grades?.G3}</td></tr>
        </tbody>
      </table>
      {prediction && (
        <p data-testid="prediction">
          Predicted outcome: <strong>{prediction.prediction}</strong> (probability {prediction.probability}, model {prediction.model_version})
        </p>
      )}
    </section>
  );
}

function TeacherView({ token }) {
  const [classes, setClasses] = useState(null);
  const [error, setError] = useState("");
  useEffect(() => {
    api(token, "/api/v1/classes").then(setClasses, (e) => setError(e.message));
  }, [token]);
  if (error) return <p role="alert">{error}</p>;
  if (!classes) return <p>Loading classes…</p>;
  return (
    <section aria-label="my classes">
      {classes.map((c) => (
        <div key={c.id}>
          <h2>{c.name}</h2>
          <p>{c.students.length} students</p>
          <ul>{c.students.map((s) => <li key={s.id}>{s.name}</li>)}</ul>
        </div>
      ))}
    </section>
  );
}

function App() {
  const [session, setSession] = useState(null);
  if (!session) return <LoginForm onToken={setSession} />;
  return (
    <main>
      <header>
        <span>Signed in as {session.role}</span>
        <button onClick={() => setSession(null)}>Log out</button>
      </header>
      {session.role === "student" ? <StudentView token={session.token} /> : <TeacherView token={session.token} />}
    </main>
  );
}

createRoot(document.getElementById("root")).render(<App />);
