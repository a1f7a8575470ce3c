/**
 * Strings whose format the compiler keeps: a `DateTime` is an RFC 3339 date-time with its offset, a
 * `Uuid` a UUID. The generated types use them wherever the schema says `format: date-time` or
 * `format: uuid`, so a plain string does not compile there: make one with `dateTime()` and `uuid()`
 * (or `newUuid()`), which check the value and throw a TypeError before any request is made.
 */
declare const brand: unique symbol;
type Branded<T extends string> = string & { readonly [brand]: T };

/** An RFC 3339 date-time with an offset: `2026-12-01T10:00:00Z`, `2026-12-01T11:00:00.250+01:00`. */
export type DateTime = Branded<"DateTime">;
/** A UUID, in its 8-4-4-4-12 hexadecimal form. */
export type Uuid = Branded<"Uuid">;

const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-](\d{2}):(\d{2}))$/;
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

export function isDateTime(value: string): value is DateTime {
  const parts = DATE_TIME.exec(value);
  if (parts === null) return false;
  const [year, month, day, hour, minute, second] = parts.slice(1, 7).map(Number) as number[] as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const offsetHours = parts[9] === undefined ? 0 : Number(parts[9]);
  const offsetMinutes = parts[10] === undefined ? 0 : Number(parts[10]);
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  return (
    month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth && hour <= 23 && minute <= 59 &&
    second <= 60 && offsetHours <= 23 && offsetMinutes <= 59
  );
}

/** `value` as a DateTime: a Date (sent in UTC), or a string that has an offset; a TypeError otherwise. */
export function dateTime(value: Date | string): DateTime {
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new TypeError("dateTime: an invalid Date");
    return value.toISOString() as DateTime;
  }
  if (!isDateTime(value)) {
    throw new TypeError(`dateTime: ${JSON.stringify(value)} is not an RFC 3339 date-time with an offset (Z or ±hh:mm)`);
  }
  return value;
}

export function isUuid(value: string): value is Uuid {
  return UUID.test(value);
}

/** `value` as a Uuid; a TypeError when it is not one. */
export function uuid(value: string): Uuid {
  if (!isUuid(value)) throw new TypeError(`uuid: ${JSON.stringify(value)} is not a UUID`);
  return value;
}

/**
 * A new random (version 4) UUID, for ids made on the phone. Uses `crypto.randomUUID` or
 * `crypto.getRandomValues` where the platform has one (on React Native, install
 * react-native-get-random-values or use expo-crypto's randomUUID and pass it to `uuid()`).
 */
export function newUuid(): Uuid {
  const webCrypto = (globalThis as { crypto?: Partial<Crypto> }).crypto;
  if (typeof webCrypto?.randomUUID === "function") return webCrypto.randomUUID() as Uuid;
  if (typeof webCrypto?.getRandomValues !== "function") {
    throw new TypeError("newUuid: no crypto.getRandomValues on this platform (see the README)");
  }
  const bytes = webCrypto.getRandomValues(new Uint8Array(16));
  bytes[6] = ((bytes[6] as number) & 0x0f) | 0x40;
  bytes[8] = ((bytes[8] as number) & 0x3f) | 0x80;
  const hex = Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}` as Uuid;
}
