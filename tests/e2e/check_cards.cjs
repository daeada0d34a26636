// Checks Adaptive Cards against the schema version each declares, with the Adaptive Cards renderer's own
// reader (npm adaptivecards): reads {"name": card, ...} on stdin, writes {"name": [problem, ...], ...}.
// A card is wrong when the reader reports anything while parsing it at its declared version (an element,
// action or property that version lacks, a value it cannot take), when its inputs fail the reader's own
// checks (ids missing or repeated), or when a typed object has a property its type lacks at that version or a
// value of the wrong kind for one it has (the reader would drop it without a word).
const AC = require("adaptivecards/dist/adaptivecards.js");

function read(stream) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    stream.on("data", (chunk) => chunks.push(chunk));
    stream.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    stream.on("error", reject);
  });
}

// Properties every element or action may carry that its schema object does not list.
const ALWAYS = new Set(["type", "fallback", "$schema"]);
// The collections each type's reader reads by hand, outside its schema object: listed by the renderer's source.
const COLLECTIONS = {
  AdaptiveCard: ["version", "body", "actions"],
  Container: ["items"],
  Column: ["items"],
  ColumnSet: ["columns"],
  TableCell: ["items"],
  Table: ["rows", "firstRowAsHeader"],
  TableRow: ["cells"],
  ActionSet: ["actions"],
  FactSet: ["facts"],
  ImageSet: ["images"],
  "Input.ChoiceSet": ["choices"],
  "Action.ShowCard": ["card"],
};
const KINDS = [
  [AC.NumProperty, "number"],
  [AC.BoolProperty, "boolean"],
  [AC.StringProperty, "string"],
];

// The reader's schema of a typed object (an element, an action, the card), at the declared version.
function schemaOf(type, declared) {
  if (type === "AdaptiveCard") return new AC.AdaptiveCard().getSchema();
  const registration =
    AC.GlobalRegistry.elements.findByName(type, declared) || AC.GlobalRegistry.actions.findByName(type, declared);
  return registration ? new registration.objectType().getSchema() : null;
}

// Each property of a typed object that its type lacks at the declared version, or whose value is of the wrong
// kind (a number given as text, say); the parse reports unknown types themselves.
function properties(node, path, declared, found) {
  if (Array.isArray(node)) {
    node.forEach((item, i) => properties(item, `${path}[${i}]`, declared, found));
    return found;
  }
  if (!node || typeof node !== "object") return found;
  const schema = typeof node.type === "string" ? schemaOf(node.type, declared) : null;
  if (schema) {
    const known = new Map();
    for (let i = 0; i < schema.getCount(); i++) known.set(schema.getItemAt(i).name, schema.getItemAt(i));
    for (const key of COLLECTIONS[node.type] || []) if (!known.has(key)) known.set(key, {});
    for (const [key, value] of Object.entries(node)) {
      const property = known.get(key);
      if (!property) {
        if (!ALWAYS.has(key)) found.push(`${path}.${key}: ${node.type} has no such property`);
        continue;
      }
      if (property.targetVersion && property.targetVersion.compareTo(declared) > 0) {
        found.push(`${path}.${key}: ${node.type} has it only from version ${property.targetVersion}`);
      }
      for (const [kind, wanted] of KINDS) {
        if (property instanceof kind && typeof value !== wanted) {
          found.push(`${path}.${key}: ${JSON.stringify(value).slice(0, 40)} is not a ${wanted}`);
        }
      }
    }
  }
  for (const [key, value] of Object.entries(node)) properties(value, `${path}.${key}`, declared, found);
  return found;
}

function check(card) {
  const problems = [];
  const declared = AC.Version.parse(card.version, new AC.SerializationContext());
  if (!card.version || !declared.isValid) return [`declares no valid version (${JSON.stringify(card.version)})`];
  if (declared.compareTo(AC.Versions.latest) > 0) {
    return [`declares version ${card.version}, newer than any the renderer knows (${AC.Versions.latest})`];
  }
  const context = new AC.SerializationContext(declared);
  const parsed = new AC.AdaptiveCard();
  parsed.parse(card, context);
  for (let i = 0; i < context.eventCount; i++) problems.push(context.getEventAt(i).message);
  for (const event of parsed.validateProperties().validationEvents) problems.push(event.message);
  return problems.concat(properties(card, "card", declared, []));
}

read(process.stdin).then((text) => {
  const answers = {};
  for (const [name, card] of Object.entries(JSON.parse(text))) answers[name] = check(card);
  process.stdout.write(JSON.stringify(answers));
});
