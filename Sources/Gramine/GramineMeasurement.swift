import Crypto

/// The manifest values that shape the enclave: its size, thread count and whether EDMM is on.
public struct EnclaveParameters: Sendable, Hashable {
    public var size: UInt64
    public var maxThreads: Int
    public var edmmEnabled: Bool

    public init(size: UInt64, maxThreads: Int, edmmEnabled: Bool) {
        self.size = size
        self.maxThreads = maxThreads
        self.edmmEnabled = edmmEnabled
    }

    /// Reads `sgx.enclave_size` (a string such as "256M", parsed like Python's `int(x, 0)` with a K/M/G suffix),
    /// `sgx.max_threads` and `sgx.edmm_enable`, with the signer's defaults for missing keys.
    public init(manifest: TOMLTable) throws(GramineManifestError) {
        let sgx = manifest["sgx"]?.table ?? TOMLTable()
        switch sgx["edmm_enable"] {
        case nil: edmmEnabled = false
        case .boolean(let flag)?: edmmEnabled = flag
        case let other?:
            throw GramineManifestError(
                key: "sgx.edmm_enable", found: "a \(other.typeName)", expected: "true or false", hint: "Write sgx.edmm_enable = true or false.")
        }
        switch sgx["max_threads"] {
        case nil: maxThreads = 4
        case .integer(let count)? where count >= 1 && count <= 1 << 20: maxThreads = Int(count)
        case let other?:
            throw GramineManifestError(
                key: "sgx.max_threads", found: other.integer.map { "\($0)" } ?? "a \(other.typeName)", expected: "an integer from 1 to \(1 << 20)",
                hint: "Set sgx.max_threads to the number of enclave threads.")
        }
        let sizeText: String
        switch sgx["enclave_size"] {
        case nil: sizeText = edmmEnabled ? "1024G" : "256M"
        case .string(let text)?: sizeText = text
        case let other?:
            throw GramineManifestError(
                key: "sgx.enclave_size", found: "a \(other.typeName)", expected: "a string such as \"256M\"",
                hint: "Quote the size: sgx.enclave_size = \"256M\".")
        }
        guard let size = Self.parseSize(sizeText) else {
            throw GramineManifestError(
                key: "sgx.enclave_size", found: "\"\(sizeText)\"",
                expected: "a number (decimal, 0x, 0o or 0b) with an optional K, M or G suffix, within 64 bits",
                hint: "Write a size such as \"256M\" or \"4G\".")
        }
        self.size = size
    }

    /// gramine's `parse_size`: an upper-case K/M/G suffix scales; the rest is read like Python's `int(text, 0)`.
    public static func parseSize(_ text: String) -> UInt64? {
        var body = Substring(text)
        var scale: UInt64 = 1
        switch body.last {
        case "K": scale = 1 << 10
        case "M": scale = 1 << 20
        case "G": scale = 1 << 30
        default: break
        }
        if scale != 1 { body = body.dropLast() }
        body = body.drop { $0 == " " || $0 == "\t" || $0 == "\n" }
        while let last = body.last, last == " " || last == "\t" || last == "\n" { body = body.dropLast() }
        if body.first == "+" { body = body.dropFirst() }
        var radix = 10
        let lowered = body.lowercased()
        for (prefix, base) in [("0x", 16), ("0o", 8), ("0b", 2)] where lowered.hasPrefix(prefix) {
            radix = base
            body = body.dropFirst(2)
            if body.first == "_" { body = body.dropFirst() }
        }
        guard let first = body.first, let last = body.last, first != "_", last != "_", !body.contains("__") else { return nil }
        let digits = body.filter { $0 != "_" }
        if radix == 10, digits.count > 1, digits.first == "0", digits.contains(where: { $0 != "0" }) { return nil }
        guard let value = UInt64(digits, radix: radix) else { return nil }
        let (scaled, overflow) = value.multipliedReportingOverflow(by: scale)
        return overflow ? nil : scaled
    }
}

/// Why the enclave could not be laid out.
public struct MeasurementError: Error, Sendable, Hashable, CustomStringConvertible {
    public let found: String
    public let expected: String
    public let hint: String

    public var description: String { "enclave layout: found \(found); expected \(expected). \(hint)" }
}

/// One region of the enclave, as `gramine-sgx-sign` lays them out from the top of the enclave down.
public struct EnclaveArea: Sendable, Hashable {
    public let name: String
    public let address: UInt64
    public let size: UInt64
    public let flags: UInt64
    public let isMeasured: Bool
}

/// One step of the measurement, in the words of `layout.txt`: the ECREATE, each page's EADD (with the SHA-256 of
/// the page when its 16 EEXTENDs follow), and runs of unmeasured pages collapsed into one entry.
public enum MeasurementRecord: Sendable, Hashable {
    case create(ssaFramePages: UInt32, enclaveSize: UInt64)
    case addPage(offset: UInt64, flags: UInt64, area: String, contentSHA256: [UInt8])
    case addUnmeasuredPages(firstOffset: UInt64, pageCount: Int, flags: UInt64, area: String)
}

/// SHA-256 of the record stream after an area (the `stream_sha256 after ...` lines of `layout.txt`).
public struct MeasurementCheckpoint: Sendable, Hashable {
    public let area: String
    public let streamSHA256: [UInt8]
}

/// MRENCLAVE as `gramine-sgx-sign` computes it (gramine.md §6), with what is needed to find where another
/// implementation differs.
public struct GramineMeasurement: Sendable, Hashable {
    public let mrEnclave: [UInt8]
    public let areas: [EnclaveArea]
    public let checkpoints: [MeasurementCheckpoint]
    /// Every record, when asked for; nil otherwise.
    public let records: [MeasurementRecord]?
    public let addCount: Int
    public let extendCount: Int
    public let heapMin: UInt64
    public let heapMax: UInt64

    // Constants of Gramine v1.9's linux-sgx PAL (generated `_graminelibos_offsets.py`); they change only with Gramine.
    public static let pageSize: UInt64 = 0x1000
    static let ssaFrameSize: UInt64 = 0x4000
    static let ssaFrameCount: UInt64 = 2
    static let tcsSize: UInt64 = 0x1000
    static let stackSize: UInt64 = 0x40000
    static let signalStackSize: UInt64 = 0x10000
    static let enclaveBase: UInt64 = 0
    static let heapMinimum: UInt64 = 0x10000
    static let gprSize: UInt64 = 0xB8
    static let stackProtectorCanary: UInt64 = 0xBAD_BAD_BAD_BAD
    static let readable: UInt64 = 0x1, writable: UInt64 = 0x2, executable: UInt64 = 0x4, tcsPage: UInt64 = 0x100, regularPage: UInt64 = 0x200

    /// Measures the enclave for the exact `.manifest.sgx` bytes; `GramineSigner.measure` reads the parameters
    /// from the manifest.
    public static func measure(
        manifestSGX: [UInt8], libpal: ELFFile, parameters: EnclaveParameters, recordingStream: Bool = false
    ) throws(MeasurementError) -> GramineMeasurement {
        let layout = try Layout(manifest: manifestSGX + [0], libpal: libpal, parameters: parameters)
        var stream = RecordStream(recording: recordingStream)
        stream.create(enclaveSize: parameters.size)
        for area in layout.areas {
            if area.name == "pal" {
                try stream.addSegments(of: libpal, at: area.address, flags: area.flags, enclaveSize: parameters.size)
            } else {
                stream.addArea(area, content: layout.contents[area.name], enclaveSize: parameters.size)
            }
        }
        return GramineMeasurement(
            mrEnclave: Array(stream.hasher.finalize()), areas: layout.areas, checkpoints: stream.checkpoints, records: stream.records,
            addCount: stream.addCount, extendCount: stream.extendCount, heapMin: heapMinimum, heapMax: layout.heapMax)
    }

    /// The areas, their addresses and their initial content (TCS and TLS pages, the manifest), in measurement order.
    private struct Layout {
        var areas: [EnclaveArea] = []
        var contents: [String: [UInt8]] = [:]
        var heapMax: UInt64 = 0

        init(manifest: [UInt8], libpal: ELFFile, parameters: EnclaveParameters) throws(MeasurementError) {
            let threads = UInt64(parameters.maxThreads)
            let loads = libpal.loadSegments
            guard !loads.isEmpty else {
                throw MeasurementError(
                    found: "a libpal.so without PT_LOAD segments", expected: "Gramine's linux-sgx libpal.so",
                    hint: "Pass the sgx/libpal.so of the Gramine build that will run.")
            }
            guard loads.allSatisfy({ $0.virtualAddress + $0.memorySize < 1 << 62 }) else {
                throw MeasurementError(
                    found: "a libpal.so segment ending beyond 2^62", expected: "segments at ordinary addresses",
                    hint: "Pass Gramine's linux-sgx libpal.so.")
            }
            let palStart = loads.map { rounddown($0.virtualAddress) }.min()!
            let palEnd = loads.map { roundup($0.virtualAddress + $0.memorySize) }.max()!
            var planned: [(name: String, size: UInt64, flags: UInt64, fixedAddress: UInt64?)] = [
                ("manifest", roundup(UInt64(manifest.count)), readable | regularPage, nil),
                ("ssa", threads * ssaFrameSize * ssaFrameCount, readable | writable | regularPage, nil),
                ("tcs", threads * tcsSize, tcsPage, nil),
                ("tls", threads * pageSize, readable | writable | regularPage, nil),
            ]
            planned += (0..<threads).map { ("stack[\($0)]", stackSize, readable | writable | regularPage, nil) }
            planned += (0..<threads).map { ("sig_stack[\($0)]", signalStackSize, readable | writable | regularPage, nil) }
            planned.append(("pal", palEnd - palStart, regularPage, palStart > 0 ? palStart : nil))

            var top = enclaveBase + parameters.size
            for area in planned {
                var address = area.fixedAddress
                if address == nil {
                    guard top >= area.size, top - area.size >= heapMinimum else {
                        throw MeasurementError(
                            found: "sgx.enclave_size \(parameters.size) bytes, too small for the \(area.name) area with \(threads) threads",
                            expected: "room for every area above 0x10000", hint: "Raise sgx.enclave_size or lower sgx.max_threads.")
                    }
                    top -= area.size
                    address = top
                }
                areas.append(EnclaveArea(name: area.name, address: address!, size: area.size, flags: area.flags, isMeasured: true))
            }
            let placed = areas
            let address = { (name: String) in placed.first { $0.name == name }!.address }
            heapMax = address("pal")
            for area in areas where area.address + area.size > heapMinimum && area.address < heapMax {
                throw MeasurementError(
                    found: "the \(area.name) area inside the heap range", expected: "only free memory between 0x10000 and libpal",
                    hint: "libpal.so has an unusual fixed load address.")
            }

            var manifestPages = manifest
            manifestPages += [UInt8](repeating: 0, count: Int(roundup(UInt64(manifest.count))) - manifest.count)
            contents["manifest"] = manifestPages
            var tcs = [UInt8](repeating: 0, count: Int(threads * tcsSize))
            var tls = [UInt8](repeating: 0, count: Int(threads * pageSize))
            // Gramine adds e_entry to the area address even for a fixed-address PAL.
            let entry = address("pal") &+ libpal.entry - enclaveBase
            for thread in 0..<threads {
                let ssa = address("ssa") + ssaFrameSize * ssaFrameCount * thread
                let tcsBase = Int(thread * tcsSize)
                let tlsBase = Int(thread * pageSize)
                put64(&tcs, tcsBase + 16, ssa - enclaveBase)
                put32(&tcs, tcsBase + 28, UInt32(ssaFrameCount))
                put64(&tcs, tcsBase + 32, entry)
                put64(&tcs, tcsBase + 56, address("tls") - enclaveBase + pageSize * thread)
                put32(&tcs, tcsBase + 64, 0xFFF)
                put32(&tcs, tcsBase + 68, 0xFFF)

                let stack = address("stack[\(thread)]")
                let signalStack = address("sig_stack[\(thread)]")
                put64(&tls, tlsBase + 0x0, address("tls") + pageSize * thread)
                put64(&tls, tlsBase + 0x8, stackProtectorCanary)
                put64(&tls, tlsBase + 0x110, parameters.size)
                put64(&tls, tlsBase + 0x118, address("tcs") - enclaveBase + tcsSize * thread)
                put64(&tls, tlsBase + 0x120, stack + stackSize)
                put64(&tls, tlsBase + 0x130, signalStack)
                put64(&tls, tlsBase + 0x138, signalStack + signalStackSize)
                put64(&tls, tlsBase + 0x148, ssa)
                put64(&tls, tlsBase + 0x150, ssa + ssaFrameSize - gprSize)
                put64(&tls, tlsBase + 0x1A0, UInt64(manifest.count))
                put64(&tls, tlsBase + 0x1A8, heapMinimum)
                put64(&tls, tlsBase + 0x1B0, heapMax)
            }
            contents["tcs"] = tcs
            contents["tls"] = tls

            guard !parameters.edmmEnabled else { return }
            // Free memory is added after everything else: gaps between areas first, then the heap below the lowest
            // area. Gramine's order; adding the heap first gives another MRENCLAVE.
            var lowest = areas.filter { $0.name != "pal" || palStart == 0 }.map(\.address).min()!
            var free: [EnclaveArea] = []
            let freeFlags = readable | writable | executable | regularPage
            for area in areas where area.address + area.size < lowest {
                free.append(
                    EnclaveArea(
                        name: "free", address: area.address + area.size, size: lowest - area.address - area.size, flags: freeFlags, isMeasured: false)
                )
                lowest = area.address
            }
            if lowest > heapMinimum {
                free.append(EnclaveArea(name: "free", address: heapMinimum, size: lowest - heapMinimum, flags: freeFlags, isMeasured: false))
            }
            areas += free
        }
    }

    private struct RecordStream {
        var hasher = SHA256()
        var checkpoints: [MeasurementCheckpoint] = []
        var records: [MeasurementRecord]?
        var addCount = 0
        var extendCount = 0

        init(recording: Bool) {
            records = recording ? [] : nil
        }

        mutating func create(enclaveSize: UInt64) {
            var record = [UInt8](repeating: 0, count: 64)
            record.replaceSubrange(0..<8, with: Array("ECREATE\0".utf8))
            put32(&record, 8, UInt32(ssaFrameSize / pageSize))
            put64(&record, 12, enclaveSize)
            hasher.update(data: record)
            records?.append(.create(ssaFramePages: UInt32(ssaFrameSize / pageSize), enclaveSize: enclaveSize))
        }

        mutating func addArea(_ area: EnclaveArea, content: [UInt8]?, enclaveSize: UInt64) {
            guard area.isMeasured else {
                addUnmeasured(area, enclaveSize: enclaveSize)
                return
            }
            let zeroPage = [UInt8](repeating: 0, count: Int(pageSize))
            for page in stride(from: area.address, to: area.address + area.size, by: Int(pageSize)) {
                let start = Int(page - area.address)
                let data = content.map { Array($0[start..<start + Int(pageSize)]) } ?? zeroPage
                addPage(at: page, flags: area.flags, data: data, area: area.name)
            }
            checkpoint(area.name)
        }

        /// Unmeasured pages cost one EADD record each; they are hashed in batches because a large enclave has
        /// millions of them.
        private mutating func addUnmeasured(_ area: EnclaveArea, enclaveSize: UInt64) {
            let pageCount = Int(area.size / pageSize)
            let batch = 4096
            var buffer = [UInt8](repeating: 0, count: 64 * min(batch, max(pageCount, 1)))
            var page = 0
            while page < pageCount {
                let count = min(batch, pageCount - page)
                for index in 0..<count {
                    let base = index * 64
                    buffer.replaceSubrange(base..<base + 8, with: Array("EADD\0\0\0\0".utf8))
                    put64(&buffer, base + 8, area.address + UInt64(page + index) * pageSize - enclaveBase)
                    put64(&buffer, base + 16, area.flags)
                }
                hasher.update(data: buffer[0..<count * 64])
                page += count
            }
            addCount += pageCount
            records?.append(.addUnmeasuredPages(firstOffset: area.address - enclaveBase, pageCount: pageCount, flags: area.flags, area: area.name))
            checkpoint(area.name)
        }

        mutating func addSegments(of libpal: ELFFile, at palAddress: UInt64, flags baseFlags: UInt64, enclaveSize: UInt64) throws(MeasurementError) {
            let loads = libpal.loadSegments
            let mapStart = loads.map { rounddown($0.virtualAddress) }.min()!
            let base = palAddress - mapStart
            for (index, segment) in loads.enumerated() {
                var flags = baseFlags
                if segment.flags & ELFFile.ProgramHeader.readableFlag != 0 { flags |= readable }
                if segment.flags & ELFFile.ProgramHeader.writableFlag != 0 { flags |= writable }
                if segment.flags & ELFFile.ProgramHeader.executableFlag != 0 { flags |= executable }
                let name = "pal PT_LOAD#\(index)"
                let address = base + segment.virtualAddress
                let firstPage = rounddown(address)
                let endPage = roundup(address + segment.memorySize)
                let fileStart = rounddown(segment.offset)
                let dataStart = segment.offset
                let dataEnd = segment.offset + segment.fileSize
                for page in stride(from: firstPage, to: endPage, by: Int(pageSize)) {
                    // The page mirrors the file from rounddown(p_offset), but bytes before p_offset and after
                    // p_offset + p_filesz are zero, whatever the file holds there.
                    let start = page - firstPage + fileStart
                    var data = [UInt8](repeating: 0, count: Int(pageSize))
                    let copyStart = max(start, dataStart)
                    let copyEnd = min(start + pageSize, dataEnd)
                    if copyStart < copyEnd {
                        data.replaceSubrange(Int(copyStart - start)..<Int(copyEnd - start), with: libpal.bytes[Int(copyStart)..<Int(copyEnd)])
                    }
                    guard page - enclaveBase < enclaveSize else {
                        throw MeasurementError(
                            found: "a libpal page at \(page) beyond the enclave size \(enclaveSize)", expected: "libpal inside the enclave",
                            hint: "Raise sgx.enclave_size.")
                    }
                    addPage(at: page, flags: flags, data: data, area: name)
                }
                checkpoint(name)
            }
        }

        private mutating func addPage(at address: UInt64, flags: UInt64, data: [UInt8], area: String) {
            let offset = address - enclaveBase
            var record = [UInt8](repeating: 0, count: 64)
            record.replaceSubrange(0..<8, with: Array("EADD\0\0\0\0".utf8))
            put64(&record, 8, offset)
            put64(&record, 16, flags)
            hasher.update(data: record)
            addCount += 1
            for chunk in stride(from: 0, to: Int(pageSize), by: 256) {
                var extend = [UInt8](repeating: 0, count: 64)
                extend.replaceSubrange(0..<8, with: Array("EEXTEND\0".utf8))
                put64(&extend, 8, offset + UInt64(chunk))
                hasher.update(data: extend)
                hasher.update(data: data[chunk..<chunk + 256])
                extendCount += 1
            }
            if records != nil {
                records!.append(.addPage(offset: offset, flags: flags, area: area, contentSHA256: Array(SHA256.hash(data: data))))
            }
        }

        private mutating func checkpoint(_ area: String) {
            let copy = hasher
            checkpoints.append(MeasurementCheckpoint(area: area, streamSHA256: Array(copy.finalize())))
        }
    }
}

private func roundup(_ value: UInt64) -> UInt64 {
    (value + GramineMeasurement.pageSize - 1) / GramineMeasurement.pageSize * GramineMeasurement.pageSize
}
private func rounddown(_ value: UInt64) -> UInt64 { value / GramineMeasurement.pageSize * GramineMeasurement.pageSize }

func put32(_ bytes: inout [UInt8], _ offset: Int, _ value: UInt32) {
    for index in 0..<4 { bytes[offset + index] = UInt8(truncatingIfNeeded: value >> (8 * index)) }
}

func put64(_ bytes: inout [UInt8], _ offset: Int, _ value: UInt64) {
    for index in 0..<8 { bytes[offset + index] = UInt8(truncatingIfNeeded: value >> (8 * index)) }
}
