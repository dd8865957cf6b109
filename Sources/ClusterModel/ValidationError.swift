/// A definition, setting or request that does not make sense, naming the field and the value.
///
/// Every decoder and validator in Vigil reports bad input with this one type so that the API,
/// the CLI and the config loader can all print "field `x`: value `y`: why".
public struct ValidationError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of problem it is.
    public enum Code: String, Hashable, Sendable {
        case invalidValue
        case missingField
        case unknownField
        case unsupportedSchema
        case conflict
    }

    public var code: Code
    /// Dotted path of the field, e.g. `monitor.interval` or `preferredNodes[2]`.
    public var field: String
    /// The offending value as text (may be empty for a missing field).
    public var value: String
    /// Why the value is refused, in words an administrator understands.
    public var reason: String

    public init(_ code: Code = .invalidValue, field: String, value: String, reason: String) {
        self.code = code
        self.field = field
        self.value = value
        self.reason = reason
    }

    public var description: String {
        if field.isEmpty { return "document: \(reason)" }
        return switch code {
        case .missingField: "field '\(field)' is missing: \(reason)"
        default: "field '\(field)': value '\(value)': \(reason)"
        }
    }

}
