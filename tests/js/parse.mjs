// Read an iCalendar file on stdin with Mozilla's ical.js (Thunderbird's engine) and print,
// as JSON, what it understood of each VEVENT: UTC instants and the zone it resolved.
import ICAL from "ical.js";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const text = Buffer.concat(chunks).toString("utf8");

function zoneOf(time) {
  if (!time.zone || time.zone === ICAL.Timezone.localTimezone) return "floating";
  return time.zone.tzid;
}

function instant(time) {
  return new Date(time.toUnixTime() * 1000).toISOString();
}

const root = new ICAL.Component(ICAL.parse(text));
const calendar = {
  name: root.getFirstPropertyValue("name"),
  calname: root.getFirstPropertyValue("x-wr-calname"),
  description: root.getFirstPropertyValue("description"),
  caldesc: root.getFirstPropertyValue("x-wr-caldesc"),
  method: root.getFirstPropertyValue("method"),
  timezones: root.getAllSubcomponents("vtimezone").map((tz) => tz.getFirstPropertyValue("tzid")),
};
const events = root.getAllSubcomponents("vevent").map((component) => {
  const event = new ICAL.Event(component);
  return {
    uid: event.uid,
    status: component.getFirstPropertyValue("status"),
    sequence: event.sequence,
    summary: event.summary,
    description: event.description,
    location: event.location,
    url: component.getFirstPropertyValue("url"),
    categories: component.getAllProperties("categories").flatMap((p) => p.getValues()),
    start: instant(event.startDate),
    end: instant(event.endDate),
    startZone: zoneOf(event.startDate),
    endZone: zoneOf(event.endDate),
  };
});
process.stdout.write(JSON.stringify({ calendar, events }));
