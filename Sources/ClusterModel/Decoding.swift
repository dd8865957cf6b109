import Foundation

/// Encodes and decodes every value Vigil keeps in the store or accepts from an administrator.
///
/// Decoding errors come back as a ``ValidationError`` naming the field, never as a raw
/// `DecodingError`, so the API and the CLI can show them as they are.
public enum ModelCodec {
    /// Decodes `type` from JSON and validates it.
    public static func decode<T: Decodable & Validatable>(_ type: T.Type, from data: some Collection<UInt8>)
        throws(ValidationError) -> T
    {
        try decoding(format: "JSON") { try JSONDecoder().decode(T.self, from: Data(data)) }
    }

    /// Runs a decoder (JSON, YAML, …) and validates what it made; every failure becomes a
    /// ``ValidationError`` naming the field.
    public static func decoding<T: Validatable>(format: String, _ decode: () throws -> T) throws(ValidationError) -> T {
        let value: T
        do {
            value = try decode()
        } catch let error as ValidationError {
            throw error
        } catch let error as DecodingError {
            throw ValidationError(decodingError: error)
        } catch {
            throw ValidationError(field: "", value: "", reason: "not valid \(format): \(error)")
        }
        try value.validate()
        return value
    }

    /// Encodes `value` as compact JSON with sorted keys (stable bytes, so value compares work).
    public static func encode(_ value: some Encodable) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            return Array(try encoder.encode(value))
        } catch {
            preconditionFailure("encoding a model value cannot fail: \(error)")
        }
    }
}

/// A value that checks its own fields after decoding.
public protocol Validatable {
    /// Throws the first problem found, naming the field and the value.
    func validate() throws(ValidationError)
}

extension ValidationError {
    public init(decodingError: DecodingError) {
        switch decodingError {
        case .keyNotFound(let key, let context):
            let path = (context.codingPath + [key]).dottedPath
            self.init(.missingField, field: path, value: "", reason: "this field is required")
        case .typeMismatch(let type, let context):
            self.init(
                field: context.codingPath.dottedPath, value: "", reason: "expected \(Self.describe(type))")
        case .valueNotFound(let type, let context):
            self.init(
                .missingField, field: context.codingPath.dottedPath, value: "null",
                reason: "expected \(Self.describe(type))")
        case .dataCorrupted(let context):
            if let underlying = context.underlyingError as? ValidationError {
                self = underlying
            } else if context.codingPath.isEmpty {
                self.init(field: "", value: "", reason: "not valid JSON")
            } else {
                self.init(field: context.codingPath.dottedPath, value: "", reason: context.debugDescription)
            }
        @unknown default:
            self.init(field: "", value: "", reason: "cannot decode: \(decodingError)")
        }
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int.Type, is Int64.Type, is UInt64.Type: "an integer"
        case is Bool.Type: "true or false"
        case is Double.Type: "a number"
        default: "a value of type \(type)"
        }
    }
}

/// Any JSON object key, to find keys a type does not know.
struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

extension Decoder {
    /// Throws `unknownField` for any key of the current object that `Keys` does not list.
    public func rejectUnknownKeys<Keys: CodingKey & CaseIterable>(_ keys: Keys.Type) throws {
        let known = Set(Keys.allCases.map(\.stringValue))
        let container = try self.container(keyedBy: AnyKey.self)
        for key in container.allKeys where !known.contains(key.stringValue) {
            throw ValidationError(
                .unknownField, field: (codingPath + [key]).dottedPath, value: key.stringValue,
                reason: "unknown field (known: \(known.sorted().joined(separator: ", ")))")
        }
    }
}
