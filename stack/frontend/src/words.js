// The model's inputs in words a student understands (UCI Student Performance data set's attributes).
const INPUTS = {
  G1: "your first-period grade", G2: "your second-period grade", absences: "your school absences",
  failures: "classes you did not pass before", studytime: "your weekly study time", goout: "going out with friends",
  higher: "wanting to go on to higher education", age: "your age", Medu: "your mother's education",
  Fedu: "your father's education", Dalc: "drinking alcohol on school days", Walc: "drinking alcohol at weekends",
  health: "your health", famrel: "how well you get on with your family", freetime: "your free time after school",
  schoolsup: "extra support from school", famsup: "help with studies from your family", paid: "paid extra classes",
  activities: "activities outside school", nursery: "having gone to nursery school", internet: "internet at home",
  romantic: "being in a relationship", traveltime: "your travel time to school", reason: "why you chose this school",
  guardian: "who your guardian is", Mjob: "your mother's job", Fjob: "your father's job",
  address: "living in a town or in the country", famsize: "the size of your family",
  Pstatus: "whether your parents live together", school: "your school", sex: "your sex",
};

export const inputInWords = (name) => INPUTS[name] ?? name;

export function chanceInWords(probability) {
  const inHundred = Math.round(probability * 100);
  if (inHundred < 1) return "fewer than 1 in 100 students with results like yours pass";
  if (inHundred > 99) return "more than 99 in 100 students with results like yours pass";
  return `about ${inHundred} in 100 students with results like yours pass`;
}

// Answers on a scale, said with their scale (the data set's questionnaire).
const SCALES = { famrel: 5, freetime: 5, goout: 5, Dalc: 5, Walc: 5, health: 5, studytime: 4, traveltime: 4 };
export const answerInWords = (name, value) => (SCALES[name] ? `${value} of ${SCALES[name]}` : String(value));

export function percent(p) {
  if (p == null) return "—";
  if (p < 0.005) return "under 1 %";
  if (p > 0.995) return "over 99 %";
  return `${Math.round(p * 100)} %`;
}
export const outcome = (prediction) => (prediction == null ? "no grades yet" : prediction === "fail" ? "at risk" : "on track");
