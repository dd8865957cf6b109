import ClusterClient
import ClusterModel
import CoordinationStore
import Foundation
import Hummingbird
import Logging

/// Every refused request: an HTTP status and a JSON body naming the field, the value and the reason.
///
///     {"error": {"status": 400, "field": "preferredNodes[1]", "value": "n 2", "reason": "…"}}
public struct APIError: Error, HTTPResponseError, CustomStringConvertible {
    public var status: HTTPResponse.Status
    public var field: String
    public var value: String
    public var reason: String
    /// Seconds for a `Retry-After` header (429, 503).
    public var retryAfter: Int?

    public init(
        _ status: HTTPResponse.Status, field: String = "", value: String = "", reason: String, retryAfter: Int? = nil
    ) {
        self.status = status
        self.field = field
        self.value = value
        self.reason = reason
        self.retryAfter = retryAfter
    }

    public init(_ error: ValidationError) {
        let status: HTTPResponse.Status = error.code == .conflict ? .conflict : .badRequest
        self.init(status, field: error.field, value: error.value, reason: error.reason)
    }

    public static func notFound(_ field: String, _ value: String, _ what: String) -> APIError {
        APIError(.notFound, field: field, value: value, reason: "no such \(what)")
    }

    public static let unauthenticated = APIError(
        .unauthorized, field: "Authorization",
        reason: "log in: a bearer token (POST /v1/sessions) or user and password (Basic)")

    public var description: String {
        field.isEmpty ? "\(status.code): \(reason)" : "\(status.code): field '\(field)': value '\(value)': \(reason)"
    }

    public typealias Body = APIErrorBody

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let body = Body(
            error: .init(status: status.code, field: field, value: String(value.prefix(200)), reason: reason))
        var headers: HTTPFields = [.contentType: "application/json"]
        if status == .unauthorized { headers[.wwwAuthenticate] = "Bearer realm=\"vigil\", Basic realm=\"vigil\"" }
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        return Response(
            status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: ModelCodec.encode(body))))
    }
}

extension APIError {
    /// The API's answer for any error thrown below it. Store and internal errors are logged and
    /// answered without their text: it names internal URLs and files, which are no caller's business.
    static func wrapping(_ error: any Error, logger: Logger) -> any Error {
        switch error {
        case let error as APIError: return error
        case let error as ValidationError: return APIError(error)
        case let error as StoreError:
            logger.warning("API request failed: store error", metadata: ["vigil.error": "\(error)"])
            return APIError(.serviceUnavailable, field: "store", reason: "the coordination store did not answer; retry")
        case let error as HTTPError: return error
        case let error as any HTTPResponseError: return error
        default:
            logger.error("API request failed", metadata: ["vigil.error": "\(error)"])
            return APIError(.internalServerError, reason: "internal error (the agent's log has the details)")
        }
    }
}
