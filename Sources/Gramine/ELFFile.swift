/// Why an ELF file could not be used: which part, what it holds, what was expected, and what to do.
public struct ELFError: Error, Sendable, Hashable, CustomStringConvertible {
    public let field: String
    public let found: String
    public let expected: String
    public let hint: String

    public var description: String { "ELF \(field): found \(found); expected \(expected). \(hint)" }
}

/// A 64-bit little-endian ELF file, read as far as enclave measurement and dependency discovery need: the header,
/// the program headers, the program interpreter and the dynamic section's library names and search paths. Every
/// offset and size is checked against the file before it is used.
public struct ELFFile: Sendable, Hashable {
    public struct ProgramHeader: Sendable, Hashable {
        public let type: UInt32
        public let flags: UInt32
        public let offset: UInt64
        public let virtualAddress: UInt64
        public let fileSize: UInt64
        public let memorySize: UInt64
        public let alignment: UInt64

        public static let load: UInt32 = 1
        public static let dynamic: UInt32 = 2
        public static let interpreter: UInt32 = 3
        public static let executableFlag: UInt32 = 1
        public static let writableFlag: UInt32 = 2
        public static let readableFlag: UInt32 = 4
    }

    /// What the dynamic section says about the libraries the file needs.
    public struct DynamicInfo: Sendable, Hashable {
        public let needed: [String]
        public let soname: String?
        /// `DT_RUNPATH`, split at ':'; searched after `LD_LIBRARY_PATH`.
        public let runPath: [String]?
        /// `DT_RPATH`, split at ':'; the loader ignores it when `DT_RUNPATH` is present.
        public let rPath: [String]?
    }

    public let bytes: [UInt8]
    /// `e_type`: 2 for executables, 3 for shared objects and position-independent executables.
    public let type: UInt16
    public let machine: UInt16
    public let entry: UInt64
    public let programHeaders: [ProgramHeader]
    /// `PT_INTERP`, the dynamic loader's path, when the file names one.
    public let interpreter: String?
    /// The dynamic section, or nil for a statically linked file.
    public let dynamic: DynamicInfo?

    public var loadSegments: [ProgramHeader] { programHeaders.filter { $0.type == ProgramHeader.load } }

    public static let headerSize = 64
    static let programHeaderSize = 56

    public init(bytes: [UInt8]) throws(ELFError) {
        self.bytes = bytes
        guard bytes.count >= Self.headerSize, bytes[0..<4].elementsEqual([0x7F, 0x45, 0x4C, 0x46]) else {
            throw ELFError(
                field: "magic", found: bytes.count < 4 ? "\(bytes.count) bytes" : Array(bytes.prefix(4)).description,
                expected: "\\x7fELF and a 64-byte header", hint: "Give an ELF file (for example libpal.so from the Gramine install).")
        }
        guard bytes[4] == 2 else {
            throw ELFError(field: "EI_CLASS", found: "\(bytes[4])", expected: "2 (64-bit)", hint: "Gramine's SGX PAL is a 64-bit x86-64 ELF file.")
        }
        guard bytes[5] == 1 else {
            throw ELFError(
                field: "EI_DATA", found: "\(bytes[5])", expected: "1 (little-endian)", hint: "Gramine's SGX PAL is a little-endian x86-64 ELF file.")
        }
        type = Self.uint16(bytes, 16)
        machine = Self.uint16(bytes, 18)
        entry = Self.uint64(bytes, 24)
        let tableOffset = Self.uint64(bytes, 32)
        let entrySize = Int(Self.uint16(bytes, 54))
        let count = Int(Self.uint16(bytes, 56))
        guard count == 0 || entrySize == Self.programHeaderSize else {
            throw ELFError(
                field: "e_phentsize", found: "\(entrySize)", expected: "\(Self.programHeaderSize)",
                hint: "The file is damaged or not a standard ELF64 file.")
        }
        let tableRange = try Self.range(offset: tableOffset, size: UInt64(count * Self.programHeaderSize), in: bytes, field: "program header table")
        let headers = stride(from: tableRange.lowerBound, to: tableRange.upperBound, by: Self.programHeaderSize).map { base in
            ProgramHeader(
                type: Self.uint32(bytes, base), flags: Self.uint32(bytes, base + 4), offset: Self.uint64(bytes, base + 8),
                virtualAddress: Self.uint64(bytes, base + 16), fileSize: Self.uint64(bytes, base + 32),
                memorySize: Self.uint64(bytes, base + 40), alignment: Self.uint64(bytes, base + 48))
        }
        programHeaders = headers
        for (index, header) in headers.enumerated() where header.type == ProgramHeader.load {
            _ = try Self.range(offset: header.offset, size: header.fileSize, in: bytes, field: "PT_LOAD #\(index) file range")
            guard header.memorySize >= header.fileSize, header.virtualAddress <= UInt64.max - header.memorySize else {
                throw ELFError(
                    field: "PT_LOAD #\(index)", found: "p_filesz \(header.fileSize), p_memsz \(header.memorySize) at \(header.virtualAddress)",
                    expected: "p_memsz >= p_filesz and an address range that does not wrap", hint: "The file is damaged.")
            }
        }
        interpreter = try headers.first { $0.type == ProgramHeader.interpreter }.map { header throws(ELFError) in
            let range = try Self.range(offset: header.offset, size: header.fileSize, in: bytes, field: "PT_INTERP")
            return String(decoding: bytes[range].prefix { $0 != 0 }, as: UTF8.self)
        }
        dynamic = try headers.first { $0.type == ProgramHeader.dynamic }.map { header throws(ELFError) in
            try Self.dynamicInfo(header, bytes: bytes, loads: headers.filter { $0.type == ProgramHeader.load })
        }
    }

    private static func dynamicInfo(_ header: ProgramHeader, bytes: [UInt8], loads: [ProgramHeader]) throws(ELFError) -> DynamicInfo {
        let sectionRange = try Self.range(offset: header.offset, size: header.fileSize, in: bytes, field: "PT_DYNAMIC")
        var entries: [(tag: UInt64, value: UInt64)] = []
        for base in stride(from: sectionRange.lowerBound, to: sectionRange.upperBound - 15, by: 16) {
            let tag = uint64(bytes, base)
            if tag == 0 { break }
            entries.append((tag, uint64(bytes, base + 8)))
        }
        let neededTag: UInt64 = 1
        let stringTableTag: UInt64 = 5
        let stringTableSizeTag: UInt64 = 10
        let sonameTag: UInt64 = 14
        let rPathTag: UInt64 = 15
        let runPathTag: UInt64 = 29
        let nameTags: Set<UInt64> = [neededTag, sonameTag, rPathTag, runPathTag]
        guard entries.contains(where: { nameTags.contains($0.tag) }) else {
            return DynamicInfo(needed: [], soname: nil, runPath: nil, rPath: nil)
        }
        guard let tableAddress = entries.first(where: { $0.tag == stringTableTag })?.value,
            let tableSize = entries.first(where: { $0.tag == stringTableSizeTag })?.value
        else {
            throw ELFError(
                field: "PT_DYNAMIC", found: "library names without DT_STRTAB and DT_STRSZ", expected: "a string table", hint: "The file is damaged.")
        }
        guard let segment = loads.first(where: { tableAddress >= $0.virtualAddress && tableAddress - $0.virtualAddress < $0.fileSize }) else {
            throw ELFError(
                field: "DT_STRTAB", found: "address \(tableAddress) outside every PT_LOAD file range", expected: "an address inside a loaded segment",
                hint: "The file is damaged.")
        }
        let tableRange = try range(offset: segment.offset + (tableAddress - segment.virtualAddress), size: tableSize, in: bytes, field: "DT_STRTAB")
        func string(_ offset: UInt64, tag: String) throws(ELFError) -> String {
            guard offset < UInt64(tableRange.count) else {
                throw ELFError(
                    field: tag, found: "string offset \(offset)", expected: "an offset below DT_STRSZ (\(tableRange.count))",
                    hint: "The file is damaged.")
            }
            let start = tableRange.lowerBound + Int(offset)
            guard let end = bytes[start..<tableRange.upperBound].firstIndex(of: 0) else {
                throw ELFError(
                    field: tag, found: "a string without its terminating NUL", expected: "NUL-terminated strings in DT_STRTAB",
                    hint: "The file is damaged.")
            }
            return String(decoding: bytes[start..<end], as: UTF8.self)
        }
        func paths(_ tag: UInt64, name: String) throws(ELFError) -> [String]? {
            guard let entry = entries.first(where: { $0.tag == tag }) else { return nil }
            return try string(entry.value, tag: name).split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        }
        var needed: [String] = []
        for entry in entries where entry.tag == neededTag { needed.append(try string(entry.value, tag: "DT_NEEDED")) }
        let soname = try entries.first { $0.tag == sonameTag }.map { entry throws(ELFError) in try string(entry.value, tag: "DT_SONAME") }
        return DynamicInfo(
            needed: needed, soname: soname, runPath: try paths(runPathTag, name: "DT_RUNPATH"), rPath: try paths(rPathTag, name: "DT_RPATH"))
    }

    static func range(offset: UInt64, size: UInt64, in bytes: [UInt8], field: String) throws(ELFError) -> Range<Int> {
        guard offset <= UInt64(bytes.count), size <= UInt64(bytes.count) - offset else {
            throw ELFError(
                field: field, found: "bytes \(offset)..<\(offset &+ size) of a \(bytes.count)-byte file", expected: "a range inside the file",
                hint: "The file is truncated or damaged.")
        }
        return Int(offset)..<Int(offset + size)
    }

    static func uint16(_ bytes: [UInt8], _ offset: Int) -> UInt16 { UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8 }
    static func uint32(_ bytes: [UInt8], _ offset: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(bytes[offset + $1]) << (8 * $1) } }
    static func uint64(_ bytes: [UInt8], _ offset: Int) -> UInt64 { (0..<8).reduce(0) { $0 | UInt64(bytes[offset + $1]) << (8 * $1) } }
}
