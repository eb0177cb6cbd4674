import CoordinatorPKI
import Crypto
import Foundation
import SealedStore
import TestSupport
import Testing

@testable import AuditLog

struct UnexpectedOutcome: Error, CustomStringConvertible {
    let description: String
}

final class LogFixture {
    let directory: URL
    let store: SealedStore
    let signer = CoordinatorSigningKey(generatingOn: .p256)

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("auditlog-\(UUID().uuidString)")
        guard
            case .created(let store) = try SealedStore.open(
                backend: SQLiteStorage(directory: directory), sealingKey: SymmetricKey(size: .bits256)
            )
        else { throw UnexpectedOutcome(description: "a new directory must give a created store") }
        self.store = store
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    static let events: [AuditEvent] = [
        .manifestSet(fingerprint: "ab12"),
        .securityVersionIncreased(user: "admin", package: "backend", version: 5),
        .secretSet(user: "alice", secret: "db-password", type: "plain"),
        .manifestUpdate(.manifestUpdateInitiated, user: "bob", fingerprint: "cd34", missingAcknowledgments: 1, missingUsers: ["carol"]),
        .activation(marbleType: "backend", uuid: UUID(uuidString: "3F2504E0-4F89-11D3-9A0C-0305E82C3301")!),
        .recovered(sharesUsed: 2),
    ]

    /// Appends every event, each together with a state change, and returns the lines.
    func appendAll() throws -> [String] {
        for (index, event) in Self.events.enumerated() {
            try store.update { transaction in
                try transaction.put("change/\(index)", Data("\(event.kind)".utf8))
                try AuditLog.append(event, signer: signer, in: transaction)
            }
        }
        return try AuditLog.lines(in: store)
    }
}

func breakOf(_ body: () throws(AuditLogBreak) -> AuditLogHead) -> AuditLogBreak? {
    do {
        _ = try body()
        return nil
    } catch {
        return error
    }
}

@Suite("Audit log")
struct AuditLogTests {
    @Test("entries chain, verify, and read as MarbleRun update log lines")
    func chainAndShape() throws {
        let fixture = try LogFixture()
        let lines = try fixture.appendAll()
        #expect(lines.count == LogFixture.events.count)
        let head = try AuditLog.verify(in: fixture.store, rootKey: fixture.signer.publicKey)
        #expect(head == AuditLogHead(count: 6, lastHash: AuditLogLine.hash(lines[5])))
        #expect(try AuditLog.head(in: fixture.store) == head)

        let second = try #require(JSONSerialization.jsonObject(with: Data(lines[1].utf8)) as? [String: Any])
        #expect(second["update"] as? String == "SecurityVersion increased")
        #expect(second["new version"] as? Int == 5)
        #expect(second["package"] as? String == "backend")
        #expect(second["seq"] as? Int == 1)
        #expect(second["prev"] as? String == AuditLogLine.hash(lines[0]))
        #expect((second["time"] as? String)?.hasSuffix("Z") == true)
        #expect(lines[0].hasPrefix("{\"time\":\"") && lines[0].contains(",\"update\":\"Initial manifest set\","))
        let fourth = try #require(JSONSerialization.jsonObject(with: Data(lines[3].utf8)) as? [String: Any])
        #expect(fourth["missingUsers"] as? [String] == ["carol"])
        #expect(try fixture.store.values(withPrefix: "change/").count == 6)
    }

    @Test("a failing state change leaves no log entry, and the log stays valid")
    func atomicWithStateChange() throws {
        struct Refused: Error {}
        let fixture = try LogFixture()
        _ = try fixture.appendAll()
        #expect(throws: Refused.self) {
            try fixture.store.update { transaction in
                try AuditLog.append(.secretSet(user: "eve", secret: "x", type: "plain"), signer: fixture.signer, in: transaction)
                try transaction.put("secret/x", Data("evil".utf8))
                throw Refused()
            }
        }
        #expect(try AuditLog.lines(in: fixture.store).count == 6)
        #expect(try fixture.store.value(forKey: "secret/x") == nil)
        #expect(try AuditLog.verify(in: fixture.store, rootKey: fixture.signer.publicKey).count == 6)
    }

    @Test("a tampered value is caught at its entry with the signature named")
    func tamperedValue() throws {
        let fixture = try LogFixture()
        var lines = try fixture.appendAll()
        lines[2] = lines[2].replacingOccurrences(of: "\"user\":\"alice\"", with: "\"user\":\"mallory\"")
        let found = try #require(
            breakOf { () throws(AuditLogBreak) in
                try AuditLogVerifier.verify(lines: lines, rootKey: fixture.signer.publicKey)
            })
        #expect(found.index == 2 && found.problem == .signature)
        #expect("\(found)".hasPrefix("audit log entry 2 is broken: signature: expected an ECDSA signature by the Coordinator root key"))
    }

    @Test("removed, reordered, truncated, empty and foreign lines are each reported at the right index")
    func structuralTampering() throws {
        let fixture = try LogFixture()
        let lines = try fixture.appendAll()
        let key = fixture.signer.publicKey
        func firstBreak(_ candidate: [String], head: AuditLogHead? = nil) -> AuditLogBreak? {
            breakOf { () throws(AuditLogBreak) in try AuditLogVerifier.verify(lines: candidate, rootKey: key, expectedHead: head) }
        }

        var removed = lines
        removed.remove(at: 1)
        #expect(firstBreak(removed) == AuditLogBreak(index: 1, problem: .sequence, expected: "1", found: "2"))

        var swapped = lines
        swapped.swapAt(3, 4)
        #expect(firstBreak(swapped)?.index == 3)
        #expect(firstBreak(swapped)?.problem == .sequence)

        var truncated = lines
        truncated[4] = String(lines[4].prefix(lines[4].count - 30))
        #expect(firstBreak(truncated)?.index == 4)
        #expect(firstBreak(truncated)?.problem == .truncated)

        var empty = lines
        empty[0] = ""
        #expect(firstBreak(empty) == AuditLogBreak(index: 0, problem: .emptyLine, expected: "a JSON object", found: "an empty line"))

        var garbled = lines
        garbled[1] = "{\"time\":,\"sig\":\"AAAA\"}"
        #expect(firstBreak(garbled)?.problem == .malformedJSON)

        // A member named twice could be read one way by this verifier and another by a reader that keeps the first.
        var doubled = lines
        doubled[2] = lines[2].replacingOccurrences(of: "\"seq\":2,", with: "\"seq\":2,\"seq\":2,")
        #expect(doubled[2] != lines[2])
        #expect(firstBreak(doubled) == AuditLogBreak(index: 2, problem: .malformedJSON, expected: "each member once", found: "\"seq\" twice"))

        var invalidUTF8 = lines
        invalidUTF8[1] = String(decoding: Array(lines[1].utf8) + [0xFF], as: UTF8.self)
        #expect(firstBreak(invalidUTF8)?.index == 1)

        let other = CoordinatorSigningKey(generatingOn: .p256)
        var foreign = lines
        foreign[5] = try AuditLogLine.make(
            LogFixture.events[5], sequence: 5, previousHash: AuditLogLine.hash(lines[4]), signer: other
        )
        #expect(firstBreak(foreign)?.index == 5)
        #expect(firstBreak(foreign)?.problem == .signature)

        var rechained = lines
        rechained[3] = try AuditLogLine.make(
            LogFixture.events[3], sequence: 3, previousHash: AuditLogLine.genesisHash, signer: fixture.signer
        )
        #expect(
            firstBreak(rechained)
                == AuditLogBreak(index: 3, problem: .previousHash, expected: AuditLogLine.hash(lines[2]), found: AuditLogLine.genesisHash)
        )

        let head = AuditLogHead(count: 6, lastHash: AuditLogLine.hash(lines[5]))
        #expect(
            firstBreak(Array(lines.prefix(4)), head: head)
                == AuditLogBreak(
                    index: 4, problem: .missingEntries, expected: "6 entries", found: "4 entries"
                ))
        #expect(firstBreak(lines, head: head) == nil)
        #expect(try AuditLogVerifier.verify(text: lines.joined(separator: "\n") + "\n", rootKey: key) == head)
    }

    @Test("messages with quotes, newlines and non-ASCII survive as JSON; reserved names are refused")
    func encoding() throws {
        let signer = CoordinatorSigningKey(generatingOn: .p384)
        let message = "line \"one\"\nline\ttwo \\ ünïcode ✓ \u{1}"
        let line = try AuditLogLine.make(
            AuditEvent(kind: .secretWrite, message: message, fields: [.init("note", .string(message))]),
            sequence: 0, previousHash: AuditLogLine.genesisHash, signer: signer
        )
        #expect(!line.contains("\n"))
        let object = try #require(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["update"] as? String == message && object["note"] as? String == message)
        #expect(try AuditLogVerifier.verify(lines: [line], rootKey: signer.publicKey).count == 1)
        #expect {
            try AuditLogLine.make(
                AuditEvent(kind: .activation, message: "x", fields: [.init("seq", .integer(9))]),
                sequence: 0, previousHash: AuditLogLine.genesisHash, signer: signer
            )
        } throws: { "\($0)".hasPrefix("audit event field 'seq' uses a reserved name") }
    }

    @Test("openssl verifies an entry's signature from the line bytes alone")
    func opensslVerifiesEntry() throws {
        let fixture = try LogFixture()
        let line = try #require(try fixture.appendAll().last)
        let marker = try #require(line.range(of: ",\"sig\":\"", options: .backwards))
        let signed = String(line[..<marker.lowerBound]) + "}"
        let signature = try #require(Data(base64Encoded: String(line[marker.upperBound...].dropLast(2))))
        let openssl = try OpenSSLTool()
        defer { openssl.remove() }
        try openssl.write("signed.json", signed)
        try openssl.write("sig.der", signature)
        try openssl.write("root.pub", fixture.signer.publicKey.pem)
        let output = try openssl.run(["dgst", "-sha256", "-verify", "root.pub", "-signature", "sig.der", "signed.json"])
        #expect(output.contains("Verified OK"))
    }
}
