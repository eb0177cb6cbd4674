/// A location in a JSON document, written as Go field paths are (`Secrets.key.Size`, `tcbLevels[3].tcb.pcesvn`). Keys
/// that are not plain words (file paths, names with dots) are quoted: `Files["/etc/app.conf"]`.
public struct JSONPath: Sendable, Hashable, CustomStringConvertible {
    public enum Component: Sendable, Hashable {
        case key(String)
        case index(Int)
    }

    public private(set) var components: [Component]

    public init(_ components: [Component] = []) {
        self.components = components
    }

    public static let root = JSONPath()

    public func appending(_ key: String) -> JSONPath {
        JSONPath(components + [.key(key)])
    }

    public func appending(index: Int) -> JSONPath {
        JSONPath(components + [.index(index)])
    }

    public static func / (path: JSONPath, key: String) -> JSONPath { path.appending(key) }

    public var description: String {
        var text = ""
        for component in components {
            switch component {
            case .index(let position):
                text += "[\(position)]"
            case .key(let key):
                let plain = !key.isEmpty && key.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == "<" || $0 == ">" }
                if plain {
                    text += text.isEmpty ? key : "." + key
                } else {
                    var escaped = ""
                    for character in key {
                        switch character {
                        case "\"": escaped += "\\\""
                        case "\\": escaped += "\\\\"
                        case "\n": escaped += "\\n"
                        default: escaped.append(character)
                        }
                    }
                    text += "[\"\(escaped)\"]"
                }
            }
        }
        return text
    }
}
