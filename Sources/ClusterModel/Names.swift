/// A name checked when made: from a literal (trapping on a bad one), from JSON or YAML (the error
/// names the field it came from), or with ``init(validating:field:)``.
public protocol ValidatedName: Hashable, Comparable, Sendable, Codable, CustomStringConvertible,
    ExpressibleByStringLiteral
{
    var rawValue: String { get }
    /// Validates `rawValue`; the error names `field`.
    init(validating rawValue: String, field: String) throws(ValidationError)
    /// The field an error names when the caller gives none.
    static var field: String { get }
}

extension ValidatedName {
    public init(validating rawValue: String) throws(ValidationError) {
        try self.init(validating: rawValue, field: Self.field)
    }

    /// For literals in code and tests; traps on an invalid name.
    public init(stringLiteral value: String) {
        do { try self.init(validating: value, field: Self.field) } catch { preconditionFailure("\(error)") }
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        try self.init(validating: text, field: decoder.codingPath.dottedPath)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    public var description: String { rawValue }
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// The stable name of a cluster node: letters, digits, `-`, `_` and `.`, 1 to 63 characters.
public struct NodeName: ValidatedName {
    public let rawValue: String
    public static let field = "node"

    public init(validating rawValue: String, field: String) throws(ValidationError) {
        guard !rawValue.isEmpty, rawValue.utf8.count <= 63,
            rawValue.unicodeScalars.allSatisfy({ $0.isASCIILetterOrDigit || "-_.".unicodeScalars.contains($0) })
        else {
            throw ValidationError(
                field: field, value: rawValue,
                reason: "a node name has 1 to 63 characters: letters, digits, '-', '_' or '.'")
        }
        self.rawValue = rawValue
    }
}

/// The name of a resource, as in NCS: letters, digits and `_`, 1 to 63 characters.
public struct ResourceName: ValidatedName {
    public let rawValue: String
    public static let field = "name"

    public init(validating rawValue: String, field: String) throws(ValidationError) {
        guard !rawValue.isEmpty, rawValue.utf8.count <= 63,
            rawValue.unicodeScalars.allSatisfy({ $0.isASCIILetterOrDigit || $0 == "_" })
        else {
            throw ValidationError(
                field: field, value: rawValue,
                reason: "a resource name has 1 to 63 characters: letters, digits or '_' (as in NCS)")
        }
        self.rawValue = rawValue
    }
}

extension Unicode.Scalar {
    var isASCIILetterOrDigit: Bool {
        ("a"..."z").contains(self) || ("A"..."Z").contains(self) || ("0"..."9").contains(self)
    }
}

extension [any CodingKey] {
    /// `a.b[2].c`, for error messages.
    public var dottedPath: String {
        var text = ""
        for key in self {
            if let index = key.intValue {
                text += "[\(index)]"
            } else {
                text += text.isEmpty ? key.stringValue : "." + key.stringValue
            }
        }
        return text
    }
}
