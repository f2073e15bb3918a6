// Tag codes: a port of verifier/codes.py for the phone (manual entry, live feedback).
//
// Format: PC-XXXX-XXXX-XXXX-XXXX-XC. 17 random symbols from a 31-symbol alphabet,
// then one check symbol chosen so that sum(i * d_i for i in 1..18) % 31 == 0. Any
// single wrong symbol and any swap of neighbours breaks that sum, so a mistyped or
// misread code is rejected instead of naming another item. Must stay in step with the
// Python module: tests/pwa/test_offline_rules.py compares the two on random codes.

export const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXY";
const VALUE = new Map([...ALPHABET].map((ch, i) => [ch, i]));
const FOLD = { O: "0", I: "1", L: "1" };
const BODY = 17;
const LENGTH = BODY + 1;
const MOD = ALPHABET.length; // 31, prime
const PREFIX = "PC";
const MAX_INPUT = 64;
// 18 * 19 == 342 == 1 (mod 31): the inverse of the check symbol's weight.
const INVERSE_OF_LENGTH = 19;

export const CodeProblem = Object.freeze({
  BAD_FORMAT: "bad_format",
  BAD_CHECK_CHARACTER: "bad_check_character",
});

/** Thrown by parse() for a text that is not a valid tag code. */
export class CodeError extends Error {
  constructor(problem, message) {
    super(message);
    this.name = "CodeError";
    this.problem = problem;
  }
}

// Python counts code points, not UTF-16 units; so do we, so that the limits agree.
function codePoints(text) {
  return Array.from(text);
}

function weightedSum(code) {
  let total = 0;
  for (let i = 0; i < code.length; i += 1) total += (i + 1) * VALUE.get(code[i]);
  return total;
}

/** The check symbol for a 17-symbol canonical body. */
export function checkSymbol(body) {
  if (body.length !== BODY || [...body].some((ch) => !VALUE.has(ch))) {
    throw new CodeError(CodeProblem.BAD_FORMAT, "A code body is 17 symbols of the alphabet.");
  }
  const total = weightedSum(body);
  return ALPHABET[(((-total * INVERSE_OF_LENGTH) % MOD) + MOD) % MOD];
}

/**
 * Fold typed or scanned text to the canonical 18-symbol form, without checking it.
 * Upper-cases, drops dashes and white space, folds look-alike letters and strips the
 * PC prefix. The result may still be invalid; see parse().
 */
export function normalize(text) {
  // ASCII only, as in codes.py: Unicode case rules would turn "ß" into "SS".
  const kept = codePoints(text)
    .slice(0, MAX_INPUT)
    .filter((ch) => !"- \t\r\n".includes(ch));
  if (kept.some((ch) => ch.codePointAt(0) > 0x7f)) return "";
  let cleaned = kept.join("").toUpperCase();
  if (cleaned.startsWith(PREFIX) && cleaned.length === LENGTH + PREFIX.length) {
    cleaned = cleaned.slice(PREFIX.length);
  }
  return codePoints(cleaned)
    .map((ch) => FOLD[ch] ?? ch)
    .join("");
}

/** Return the canonical code for text or throw CodeError. */
export function parse(text) {
  if (codePoints(text).length > MAX_INPUT) {
    throw new CodeError(CodeProblem.BAD_FORMAT, "This is far too long to be a propcheck tag code.");
  }
  const code = normalize(text);
  const symbols = codePoints(code);
  if (symbols.length !== LENGTH || symbols.some((ch) => !VALUE.has(ch))) {
    throw new CodeError(
      CodeProblem.BAD_FORMAT,
      "This is not a propcheck tag code (expected PC- and 18 letters and digits).",
    );
  }
  if (weightedSum(code) % MOD !== 0) {
    throw new CodeError(
      CodeProblem.BAD_CHECK_CHARACTER,
      "The check character does not match: the code was mistyped or misread.",
    );
  }
  return code;
}

/** True when text parses as a tag code with a correct check character. */
export function isValid(text) {
  try {
    parse(text);
    return true;
  } catch (error) {
    if (error instanceof CodeError) return false;
    throw error;
  }
}

/** Show a canonical code grouped for people: PC-XXXX-XXXX-XXXX-XXXX-XC. */
export function formatCode(code) {
  const c = codePoints(normalize(code));
  const groups = [0, 4, 8, 12].map((i) => c.slice(i, i + 4).join(""));
  groups.push(c.slice(16).join(""));
  return [PREFIX, ...groups].join("-");
}

/**
 * Feedback while a person types a code, one keystroke at a time:
 * - "empty": nothing typed yet;
 * - "typing": so far so good, `remaining` symbols to go;
 * - "bad_format": a character that can never be part of a code, or too many symbols;
 * - "bad_check_character": 18 symbols that do not check out (a typo somewhere);
 * - "valid": a complete, correct code (`code` holds its canonical form).
 */
export function checkTyping(text) {
  if (codePoints(text).length > MAX_INPUT) return { state: "bad_format" };
  let code = normalize(text);
  // While typing, a leading "PC" is taken as the prefix unless the whole text is a
  // valid code that starts with P, C (1 code in 961): the count of symbols still to
  // type may then be off by two until the code is complete, never the final answer.
  if (code.startsWith(PREFIX) && !(code.length === LENGTH && isValid(code))) {
    code = code.slice(PREFIX.length);
  }
  const symbols = codePoints(code);
  if (symbols.some((ch) => !VALUE.has(ch)) || symbols.length > LENGTH) {
    return { state: "bad_format" };
  }
  if (symbols.length === 0) return { state: "empty", remaining: LENGTH };
  if (symbols.length < LENGTH) return { state: "typing", remaining: LENGTH - symbols.length };
  if (weightedSum(code) % MOD !== 0) return { state: "bad_check_character" };
  return { state: "valid", code };
}
