/// Who may use the API, and how much.
public enum Role: String, Codable, Hashable, Sendable, CaseIterable {
    /// Reads and changes everything.
    case admin
    /// Reads everything, changes nothing (HTTP 403 on changes).
    case observer
}

/// An API or console user, kept at `/vigil/<cluster>/users/<name>`. The password is stored only as a
/// slow salted hash (bcrypt); the plain text never reaches the store or the logs.
public struct UserRecord: Hashable, Sendable, Codable, Validatable {
    public var schema: Int
    public var name: String
    public var role: Role
    public var passwordHash: String

    public init(name: String, role: Role, passwordHash: String) {
        self.schema = 1
        self.name = name
        self.role = role
        self.passwordHash = passwordHash
    }

    public func validate() throws(ValidationError) {
        try Self.validate(name: name, field: "name")
        guard passwordHash.hasPrefix("$2") else {
            throw ValidationError(field: "passwordHash", value: "(hidden)", reason: "not a bcrypt hash")
        }
    }

    /// User names: letters, digits, `_`, `-`, `.`, 1 to 32 characters.
    public static func validate(name: String, field: String) throws(ValidationError) {
        let allowed = name.unicodeScalars.allSatisfy {
            $0.isASCIILetterOrDigit || "_-.".unicodeScalars.contains($0)
        }
        guard (1...32).contains(name.count), allowed else {
            throw ValidationError(
                field: field, value: name, reason: "a user name has 1 to 32 letters, digits, '_', '-' or '.'")
        }
    }
}

/// A login session, kept at `/vigil/<cluster>/sessions/<hash of the token>` on a lease: it expires
/// by itself, and because it lives in the store it survives the failover of the node that made it.
public struct SessionRecord: Hashable, Sendable, Codable, Validatable {
    public var schema: Int
    public var user: String
    public var role: Role
    /// Wall-clock milliseconds of the login.
    public var created: Int64
    /// The mod revision of the user's record at login: a session is valid only while the record
    /// is unchanged, so deleting the user or changing their role or password revokes it at once.
    public var userRevision: Int64?

    public init(user: String, role: Role, created: Int64, userRevision: Int64?) {
        self.schema = 1
        self.user = user
        self.role = role
        self.created = created
        self.userRevision = userRevision
    }

    public func validate() throws(ValidationError) {}
}

extension KeyLayout {
    public func user(_ name: String) -> String { prefix + "users/\(name)" }
    public var usersPrefix: String { prefix + "users/" }
    /// A session's key: the hex SHA-256 of its token (the token itself is never stored).
    public func session(_ tokenHash: String) -> String { prefix + "sessions/\(tokenHash)" }
}
