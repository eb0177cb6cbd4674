import FuzzSupport
import StrictJSON

// Every JSON document from outside (manifests, collateral, registry documents, requests) goes through this parser.
// Whatever parses must re-serialize, through the string literal writer, into text that parses to the same value.

func serialized(_ value: JSONValue) -> String {
    switch value {
    case .null: "null"
    case .bool(let flag): flag ? "true" : "false"
    case .number(let literal): literal
    case .string(let text): JSONValue.stringLiteral(text)
    case .array(let elements): "[" + elements.map(serialized).joined(separator: ",") + "]"
    case .object(let members): "{" + members.map { JSONValue.stringLiteral($0.key) + ":" + serialized($0.value) }.joined(separator: ",") + "}"
    }
}

let seeds: [[UInt8]] = [
    #"{"a": [1, -2.5e3, true, false, null, "\u00e9\ud83d\ude00\n"], "a": {}}"#, "[[[[[]]]]]", #""\"\\\/\b\f\n\r\t""#, "-0.0e-0",
].map { Array($0.utf8) }

runFuzzer(seeds: seeds) { data, size in
    guard let data else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let value = try? JSONParser.parse(bytes) else { return 0 }
    let text = serialized(value)
    do {
        let again = try JSONParser.parse(Array(text.utf8))
        if again != value { fatalError("re-serializing changed the value: \(text)") }
    } catch {
        fatalError("re-serialized JSON does not parse (\(error)): \(text)")
    }
    _ = try? JSONParser.parseObjectMembers(bytes)
    return 0
}
