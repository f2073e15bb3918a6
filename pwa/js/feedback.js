// Verdict feedback beyond the screen: a vibration pattern and a short tone.
// Both only where the browser allows (vibration needs a user gesture on some phones,
// audio needs an AudioContext resumed after one). Never the only signal: the words and
// icon on screen are.

let audio = null;

/** Call from a user gesture (a tap) so that later tones may play. */
export function unlockAudio() {
  try {
    audio ??= new (globalThis.AudioContext || globalThis.webkitAudioContext)();
    if (audio.state === "suspended") audio.resume();
  } catch {
    audio = null;
  }
}

function tone(freqs, ms) {
  if (!audio || audio.state !== "running") return;
  const start = audio.currentTime;
  freqs.forEach((f, i) => {
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.type = "sine";
    osc.frequency.value = f;
    const t = start + (i * ms) / 1000;
    gain.gain.setValueAtTime(0.0001, t);
    gain.gain.exponentialRampToValueAtTime(0.3, t + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, t + ms / 1000);
    osc.connect(gain).connect(audio.destination);
    osc.start(t);
    osc.stop(t + ms / 1000 + 0.05);
  });
}

/**
 * CLEARED: one short buzz, a rising two-note chime. CHECK (cleared by the registry, not
 * yet compared by the person): two short taps, one plain mid tone, nothing like the
 * chime. STOP, and anything else: three long buzzes, a low tone.
 */
export function signal(verdict) {
  try {
    if (verdict === "CLEARED") {
      navigator.vibrate?.(120);
      tone([660, 990], 140);
    } else if (verdict === "CHECK") {
      navigator.vibrate?.([60, 80, 60]);
      tone([440], 160);
    } else {
      navigator.vibrate?.([300, 120, 300, 120, 300]);
      tone([220, 220, 220], 220);
    }
  } catch {
    // Feedback is a courtesy; the screen carries the verdict.
  }
}
