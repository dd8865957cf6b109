// swift-format-ignore-file: AlwaysUseLowerCamelCase
// (the stored properties are named as etcd's JSON fields: `mod_revision`, `ID`, `TTL`, …)

import CoordinationStore
import Foundation

/// The JSON shapes of etcd's v3 gateway (`/v3/…`): keys and values in base64, 64-bit integers as
/// strings, zero and false fields left out (etcd 3.4, grpc-gateway).
enum EtcdWire {
    static func encode(_ bytes: [UInt8]) -> String { Data(bytes).base64EncodedString() }
    static func encode(_ text: String) -> String { encode(Array(text.utf8)) }

    static func decode(_ text: String?) -> [UInt8] {
        guard let text, let data = Data(base64Encoded: text) else { return [] }
        return Array(data)
    }

    /// The end of the range covering every key that starts with `prefix`.
    static func prefixEnd(_ prefix: String) -> [UInt8] {
        var bytes = Array(prefix.utf8)
        while let last = bytes.last {
            if last < 0xFF {
                bytes[bytes.count - 1] = last + 1
                return bytes
            }
            bytes.removeLast()
        }
        return [0]  // every key
    }

    struct Header: Decodable {
        var revision: String?
        var member_id: String?
    }

    struct KV: Decodable {
        var key: String?
        var create_revision: String?
        var mod_revision: String?
        var version: String?
        var value: String?
        var lease: String?

        var keyValue: KeyValue {
            let leaseID = lease.flatMap(Int64.init).flatMap { $0 == 0 ? nil : LeaseID($0) }
            return KeyValue(
                key: String(decoding: EtcdWire.decode(key), as: UTF8.self), value: EtcdWire.decode(value),
                createRevision: Int64(create_revision ?? "0") ?? 0, modRevision: Int64(mod_revision ?? "0") ?? 0,
                version: Int64(version ?? "0") ?? 0, lease: leaseID)
        }
    }

    struct RangeResponse: Decodable {
        var header: Header?
        var kvs: [KV]?
        /// How many keys the range holds in all (a limited range returns fewer).
        var count: String?
    }

    struct ResponseOp: Decodable {
        var response_range: RangeResponse?
        /// A nested transaction's answer.
        var response_txn: TxnResponse?
    }

    struct TxnResponse: Decodable {
        var header: Header?
        var succeeded: Bool?
        var responses: [ResponseOp]?
    }

    struct LeaseGrantResponse: Decodable {
        var ID: String?
        var TTL: String?
        var error: String?
    }

    struct LeaseKeepAliveResponse: Decodable {
        struct Result: Decodable {
            var ID: String?
            var TTL: String?
        }
        var result: Result?
    }

    struct LeaseTimeToLiveResponse: Decodable {
        var ID: String?
        var TTL: String?
    }

    struct AuthenticateResponse: Decodable {
        var token: String?
    }

    /// One line of a watch stream.
    struct WatchMessage: Decodable {
        struct Event: Decodable {
            var type: String?
            var kv: KV?
        }
        struct Result: Decodable {
            var header: Header?
            var created: Bool?
            var canceled: Bool?
            var compact_revision: String?
            var cancel_reason: String?
            var events: [Event]?
        }
        var result: Result?
        var error: ErrorBody?
    }

    /// An error answer: the gateway sends `{"error": …, "code": gRPC code, "message": …}`.
    struct ErrorBody: Decodable {
        var error: String?
        var code: Int?
        var message: String?
        var grpc_code: Int?
        var http_code: Int?

        var text: String { message ?? error ?? "unknown etcd error" }
        var grpcCode: Int? { code ?? grpc_code }
    }

    // MARK: Requests

    static func compare(_ compare: Compare) -> [String: Any] {
        var object: [String: Any] = ["key": encode(compare.key)]
        switch compare.result {
        case .equal: object["result"] = "EQUAL"
        case .notEqual: object["result"] = "NOT_EQUAL"
        case .greater: object["result"] = "GREATER"
        case .less: object["result"] = "LESS"
        }
        switch compare.target {
        case .createRevision(let revision):
            object["target"] = "CREATE"
            object["create_revision"] = String(revision)
        case .modRevision(let revision):
            object["target"] = "MOD"
            object["mod_revision"] = String(revision)
        case .version(let version):
            object["target"] = "VERSION"
            object["version"] = String(version)
        case .value(let value):
            object["target"] = "VALUE"
            object["value"] = encode(value)
        }
        return object
    }

    static func operation(_ operation: StoreOperation) -> [String: Any] {
        switch operation {
        case .put(let key, let value, let lease):
            var put: [String: Any] = ["key": encode(key), "value": encode(value)]
            if let lease { put["lease"] = String(lease.rawValue) }
            return ["request_put": put]
        case .delete(let key):
            return ["request_delete_range": ["key": encode(key)]]
        case .deletePrefix(let prefix):
            return ["request_delete_range": ["key": encode(prefix), "range_end": encode(prefixEnd(prefix))]]
        case .get(let key):
            return ["request_range": ["key": encode(key)]]
        }
    }

    static func transaction(_ transaction: Transaction) -> [String: Any] {
        [
            "compare": transaction.compare.map(compare),
            "success": transaction.success.map(operation),
            "failure": transaction.failure.map(operation),
        ]
    }

    /// Independent transactions as one: each nested in the success branch of a transaction with no
    /// compare (etcd ≥ 3.3).
    static func transactions(_ batch: [Transaction]) -> [String: Any] {
        ["compare": [Any](), "success": batch.map { ["request_txn": transaction($0)] }, "failure": [Any]()]
    }
}
