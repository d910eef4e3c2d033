/**
 * Puts String.prototype back in V8's fast-properties mode, and keeps it there for the life of the
 * process.
 *
 * Defining a subclass of String (ioredis's VerbatimString, loaded with ioredis) makes V8 turn
 * String.prototype into a dictionary, as it does any object that becomes a prototype. V8 makes a
 * prototype fast again when a property is looked up through it from an object, but lookups on
 * string primitives never do that: String.prototype stayed a dictionary for the life of the
 * process, and optimized code calls String methods through a slow path. A loop over a string's
 * charCodeAt ran 2.5 to 5 times slower, indexOf and slice about twice; OpenTelemetry's OTLP
 * protobuf serializer, which reads each string a character at a time, took 12 to 16 µs of CPU per
 * span instead of 4 to 6.
 *
 * Lookups through a String object (with feedback, so after a few calls) mark the prototype as one
 * that should be fast: V8 makes it fast again and does not turn it into a dictionary for a later
 * subclass. Cheap, idempotent, and safe to call before or after the subclass is defined.
 */
export function keepStringPrototypeFast(): void {
  // An object (not a primitive) whose prototype is String.prototype.
  const wrapper = new String('');
  for (let i = 0; i < 100; i++) lookUp(wrapper);
}

function lookUp(o: object): unknown {
  return (o as Record<string, unknown>)['sluice-absent'];
}
