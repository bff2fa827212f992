// A student's own record and prediction in plain words, what mattered most, their data export and the directory switch.
import React, { useEffect, useState } from "react";
import { api, download } from "../api.js";
import { Loading, Problem } from "../Problem.jsx";
import { useApi, useSession } from "../session.jsx";
import { answerInWords, chanceInWords, inputInWords } from "../words.js";

export function StudentHome() {
  const { session } = useSession();
  const record = useApi("/api/v1/students/me");
  const [prediction, setPrediction] = useState(null);
  const [error, setError] = useState(null);
  const [optOut, setOptOut] = useState(false);
  const [saved, setSaved] = useState("");
  useEffect(() => {
    if (!record.data) return;
    setOptOut(record.data.directory_opt_out);
    api(session.token, "/api/v1/predictions", { method: "POST", json: { student_id: record.data.id } })
      .then(setPrediction, setError);
  }, [record.data, session.token]);
  if (record.error) return <Problem error={record.error} onRetry={record.reload} />;
  if (!record.data) return <Loading what="your record" />;
  const me = record.data;

  async function exportData() {
    try {
      download(`edupro-my-data-${me.student_no}.json`, await api(session.token, `/api/v1/students/${me.id}/export`));
    } catch (e) {
      setError(e);
    }
  }
  async function switchDirectory(event) {
    const wanted = event.target.checked;
    try {
      const answer = await api(session.token, "/api/v1/students/me/directory-opt-out", { method: "PUT", json: { opt_out: wanted } });
      setOptOut(answer.directory_opt_out);
      setSaved(answer.directory_opt_out ? "You are now hidden from the school directory." : "You are listed in the school directory again.");
    } catch (e) {
      setError(e);
    }
  }
  return (
    <>
      <h1>Hello, {me.name}</h1>
      <section aria-labelledby="grades-title">
        <h2 id="grades-title">Your grades</h2>
        <table>
          <caption>Grades out of 20</caption>
          <tbody>
            <tr><th scope="row">First period (G1)</th><td>{me.grades?.G1 ?? "—"}</td></tr>
            <tr><th scope="row">Second period (G2)</th><td>{me.grades?.G2 ?? "—"}</td></tr>
            <tr><th scope="row">Final (G3)</th><td>{me.grades?.G3 ?? "—"}</td></tr>
          </tbody>
        </table>
      </section>
      <section aria-labelledby="prediction-title">
        <h2 id="prediction-title">What EduPro expects</h2>
        {error && <Problem error={error} />}
        {!prediction && !error && <Loading what="your prediction" />}
        {prediction && (
          <div data-testid="prediction">
            <p>
              {prediction.prediction === "pass"
                ? "EduPro expects you to pass this course: "
                : "EduPro sees a risk that you will not pass this course: "}
              {chanceInWords(prediction.probability)}.
              {prediction.prediction === "fail" && " Talk with your teacher about what could help; a prediction is not a verdict."}
            </p>
            {prediction.influences?.length > 0 && (
              <>
                <h3>What mattered most</h3>
                <ul>
                  {prediction.influences.map((f) => (
                    <li key={f.input}>{inputInWords(f.input)} ({answerInWords(f.input, f.value)}) {f.effect === "raises" ? "raised" : "lowered"} your chances</li>
                  ))}
                </ul>
              </>
            )}
            <p className="small">Predicted by model {prediction.model_version} from your grades and the answers you gave the school.</p>
          </div>
        )}
      </section>
      <section aria-labelledby="data-title">
        <h2 id="data-title">Your data</h2>
        <button onClick={exportData}>Download all my data</button>
        <p>
          <label>
            <input type="checkbox" checked={optOut} onChange={switchDirectory} /> Hide me from the school directory
          </label>
        </p>
        <p role="status">{saved}</p>
      </section>
    </>
  );
}
