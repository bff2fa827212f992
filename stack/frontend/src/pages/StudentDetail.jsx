// One student's record and prediction, as a teacher or an administrator sees it; the administrator's actions.
import React, { useEffect, useRef, useState } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { api, download } from "../api.js";
import { Loading, Problem } from "../Problem.jsx";
import { useApi, useSession } from "../session.jsx";
import { answerInWords, inputInWords, outcome, percent } from "../words.js";

export function StudentDetail() {
  const { studentId } = useParams();
  const { session } = useSession();
  const record = useApi(`/api/v1/students/${studentId}`);
  const [prediction, setPrediction] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    if (!record.data?.grades) return;
    api(session.token, "/api/v1/predictions", { method: "POST", json: { student_id: Number(studentId) } })
      .then(setPrediction, setError);
  }, [record.data, session.token, studentId]);
  if (record.error) return <Problem error={record.error} onRetry={record.reload} />;
  if (!record.data) return <Loading what="the student's record" />;
  const s = record.data;
  return (
    <>
      <p><Link to={session.role === "administrator" ? "/admin" : "/classes"}>Back</Link></p>
      <h1>{s.name}</h1>
      {s.erased && <p>This student's identifying data was erased.</p>}
      <dl className="facts">
        <dt>Student number</dt><dd>{s.student_no}</dd>
        <dt>School</dt><dd>{s.school}</dd>
        <dt>Grades (G1, G2, G3)</dt><dd>{s.grades ? `${s.grades.G1}, ${s.grades.G2}, ${s.grades.G3}` : "none"}</dd>
        <dt>Absences</dt><dd>{s.attributes?.absences ?? "—"}</dd>
        <dt>Outlook</dt>
        <dd>{prediction ? `${outcome(prediction.prediction)}, ${percent(prediction.probability)} chance of passing` : "—"}</dd>
      </dl>
      {error && <Problem error={error} />}
      {prediction?.influences?.length > 0 && (
        <>
          <h2>What mattered most</h2>
          <ul>
            {prediction.influences.map((f) => (
              <li key={f.input}>{inputInWords(f.input).replace(/^your /, "")} ({answerInWords(f.input, f.value)}): {f.effect}</li>
            ))}
          </ul>
        </>
      )}
      {session.role === "administrator" && <AdminActions student={s} />}
    </>
  );
}

function AdminActions({ student }) {
  const { session } = useSession();
  const navigate = useNavigate();
  const dialog = useRef(null);
  const [error, setError] = useState(null);
  async function exportData() {
    try {
      download(`edupro-student-${student.id}.json`, await api(session.token, `/api/v1/students/${student.id}/export`));
    } catch (e) {
      setError(e);
    }
  }
  async function erase() {
    dialog.current.close();
    try {
      await api(session.token, `/api/v1/students/${student.id}`, { method: "DELETE" });
      navigate("/admin", { state: { notice: `${student.name}'s identifying data was erased.` } });
    } catch (e) {
      setError(e);
    }
  }
  return (
    <section aria-labelledby="actions-title">
      <h2 id="actions-title">Data protection</h2>
      <button onClick={exportData}>Download this student's data (GDPR access request)</button>{" "}
      {!student.erased && <button onClick={() => dialog.current.showModal()}>Erase identifying data…</button>}
      {error && <Problem error={error} />}
      <dialog ref={dialog} aria-labelledby="erase-title">
        <h2 id="erase-title">Erase {student.name}'s identifying data?</h2>
        <p>
          The name, e-mail address and date of birth are removed for good, and the student's account can no longer
          sign in. Grades and answers stay, without a name, for the school's statistics. This cannot be undone.
        </p>
        <button onClick={erase}>Erase for good</button> <button autoFocus onClick={() => dialog.current.close()}>Cancel</button>
      </dialog>
    </section>
  );
}
