// A line chart (uPlot) of one decoded field over time, with its last, lowest and highest value
// in text for those who do not see the chart. Loaded on first use (lazy).
import { useEffect, useMemo, useRef } from "react";
import uPlot from "uplot";
import { dateTime, pick } from "../lib/format.js";

const HEIGHT = 240;

export default function Chart({ events, field }) {
  const box = useRef(null);
  const points = useMemo(
    () =>
      events
        .map((e) => [Date.parse(e.received_at) / 1000, pick(e.object, field)])
        .filter(([t, v]) => Number.isFinite(t) && typeof v === "number")
        .sort((a, b) => a[0] - b[0]),
    [events, field],
  );
  useEffect(() => {
    const el = box.current;
    const plot = new uPlot(
      {
        width: el.clientWidth || 600,
        height: HEIGHT,
        series: [{}, { label: field, stroke: "#2563eb", width: 2, points: { show: points.length < 60 } }],
        scales: { x: { time: true } },
        legend: { live: false },
      },
      [points.map((p) => p[0]), points.map((p) => p[1])],
      el,
    );
    const resize = new ResizeObserver(() => plot.setSize({ width: el.clientWidth, height: HEIGHT }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [points, field]);
  const values = points.map((p) => p[1]);
  const last = points[points.length - 1];
  return (
    <figure className="chart">
      <div ref={box} role="img" aria-label={`${field} over the latest ${points.length} uplinks`} />
      {last && (
        <figcaption>
          {field}: last {last[1]} ({dateTime(new Date(last[0] * 1000).toISOString())}), lowest {Math.min(...values)},
          highest {Math.max(...values)} over {points.length} uplinks
        </figcaption>
      )}
    </figure>
  );
}
