/// A length of time in whole milliseconds: the unit of every Vigil setting and of the brain's arithmetic.
///
/// JSON form is a string with a unit — `"400ms"`, `"2s"`, `"1.5s"`, `"10m"`, `"1h"` — or a bare
/// number of seconds (NCS admins think in seconds).
public struct Span: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public var milliseconds: Int64

    public init(milliseconds: Int64) { self.milliseconds = milliseconds }

    public static func milliseconds(_ value: Int64) -> Span { Span(milliseconds: value) }
    public static func seconds(_ value: Int64) -> Span { Span(milliseconds: value * 1000) }
    public static func minutes(_ value: Int64) -> Span { Span(milliseconds: value * 60_000) }
    public static let zero = Span(milliseconds: 0)

    /// Parses `"400ms"`, `"2s"`, `"1.5s"`, `"10m"`, `"1h"` or a number of seconds.
    public init(parsing text: String, field: String) throws(ValidationError) {
        let units: [(String, Double)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000)]
        var number = Substring(text)
        var scale = 1000.0
        for (suffix, factor) in units where text.hasSuffix(suffix) {
            number = text.dropLast(suffix.count)
            scale = factor
            break
        }
        guard let value = Double(number), value.isFinite, value >= 0, value * scale < 1e15 else {
            throw ValidationError(
                field: field, value: text, reason: "expected a duration such as '400ms', '2s', '10m' or '1h'")
        }
        self.milliseconds = Int64((value * scale).rounded())
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let field = decoder.codingPath.dottedPath
        if let seconds = try? container.decode(Double.self) {
            try self.init(parsing: String(seconds), field: field)
        } else {
            try self.init(parsing: try container.decode(String.self), field: field)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    public var description: String {
        if milliseconds != 0, milliseconds % 3_600_000 == 0 { return "\(milliseconds / 3_600_000)h" }
        if milliseconds != 0, milliseconds % 60_000 == 0 { return "\(milliseconds / 60_000)m" }
        if milliseconds % 1000 == 0 { return "\(milliseconds / 1000)s" }
        return "\(milliseconds)ms"
    }

    /// The same length as a standard library `Duration` (for drivers; the brain uses `Span`).
    public var duration: Duration { .milliseconds(milliseconds) }

    public static func < (lhs: Span, rhs: Span) -> Bool { lhs.milliseconds < rhs.milliseconds }
    public static func + (lhs: Span, rhs: Span) -> Span { Span(milliseconds: lhs.milliseconds + rhs.milliseconds) }
    public static func - (lhs: Span, rhs: Span) -> Span { Span(milliseconds: lhs.milliseconds - rhs.milliseconds) }
    public static func * (lhs: Span, rhs: Int64) -> Span { Span(milliseconds: lhs.milliseconds * rhs) }
    /// `percent` of this span, rounded down.
    public func percent(_ percent: Int64) -> Span { Span(milliseconds: milliseconds * percent / 100) }
}

/// A point on one node's monotonic clock, in milliseconds since an arbitrary origin,
/// plus the wall-clock reading taken at the same time (for display only, never for decisions).
///
/// Moments from different nodes MUST NOT be compared: each node has its own origin.
public struct Moment: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var milliseconds: Int64
    /// Wall-clock milliseconds since 1970 at this moment; only shown to people (`upSince`).
    public var wallMilliseconds: Int64

    public init(milliseconds: Int64, wallMilliseconds: Int64 = 0) {
        self.milliseconds = milliseconds
        self.wallMilliseconds = wallMilliseconds
    }

    public static func + (lhs: Moment, rhs: Span) -> Moment {
        Moment(
            milliseconds: lhs.milliseconds + rhs.milliseconds, wallMilliseconds: lhs.wallMilliseconds + rhs.milliseconds
        )
    }
    public static func - (lhs: Moment, rhs: Span) -> Moment { lhs + Span(milliseconds: -rhs.milliseconds) }
    public static func - (lhs: Moment, rhs: Moment) -> Span { Span(milliseconds: lhs.milliseconds - rhs.milliseconds) }
    public static func < (lhs: Moment, rhs: Moment) -> Bool { lhs.milliseconds < rhs.milliseconds }
    public static func == (lhs: Moment, rhs: Moment) -> Bool { lhs.milliseconds == rhs.milliseconds }
    public func hash(into hasher: inout Hasher) { hasher.combine(milliseconds) }
    public var description: String { "t+\(milliseconds)ms" }
}
