/// The part of XML a Pacemaker CIB uses (`cibadmin --query`): elements, attributes, comments, the
/// declaration, the five predefined entities and character references; text content is read past.
/// Written here rather than using FoundationXML, which would link libxml2 (and ICU) into the
/// statically linked `vigil` the package ships (docs/design/0021).
struct XMLTag {
    var name: String
    var attributes: [String: String]
    var children: [XMLTag]
    var line: Int

    subscript(_ attribute: String) -> String? { attributes[attribute] }

    func children(_ name: String) -> [XMLTag] { children.filter { $0.name == name } }
    func child(_ name: String) -> XMLTag? { children.first { $0.name == name } }

    /// `name` → `value` of the `<nvpair>`s in this element's `<tag>` children (instance or meta attributes).
    func pairs(in tag: String) -> [(name: String, value: String, line: Int)] {
        children(tag).flatMap { $0.children("nvpair") }.compactMap { pair in
            guard let name = pair["name"] else { return nil }
            return (name, pair["value"] ?? "", pair.line)
        }
    }
}

struct XMLReader {
    struct Failure: Error {
        var line: Int
        var reason: String
    }

    private let bytes: [UInt8]
    private var position = 0
    private var line = 1

    init(_ text: String) { bytes = Array(text.utf8) }

    /// The root element, or where and why the text is not well-formed.
    static func parse(_ text: String) throws(Failure) -> XMLTag {
        var reader = XMLReader(text)
        return try reader.document()
    }

    private mutating func document() throws(Failure) -> XMLTag {
        var root: XMLTag?
        while true {
            skipText()
            guard position < bytes.count else { break }
            if try skipMarkup() { continue }
            guard root == nil else { throw Failure(line: line, reason: "a second root element") }
            root = try element()
        }
        guard let root else { throw Failure(line: line, reason: "no XML element in the file") }
        return root
    }

    private mutating func skipText() {
        while position < bytes.count, bytes[position] != UInt8(ascii: "<") { advance() }
    }

    private mutating func advance() {
        if bytes[position] == UInt8(ascii: "\n") { line += 1 }
        position += 1
    }

    private func starts(with text: String) -> Bool {
        let prefix = Array(text.utf8)
        return position + prefix.count <= bytes.count && Array(bytes[position..<position + prefix.count]) == prefix
    }

    /// Skips `<?…?>`, `<!--…-->`, `<!…>` (and `<![CDATA[…]]>`); false if the next markup is a tag.
    private mutating func skipMarkup() throws(Failure) -> Bool {
        let start = line
        for (open, close) in [("<?", "?>"), ("<!--", "-->"), ("<![CDATA[", "]]>"), ("<!", ">")] where starts(with: open)
        {
            while position < bytes.count, !starts(with: close) { advance() }
            guard position < bytes.count else { throw Failure(line: start, reason: "'\(open)' is not closed") }
            position += close.utf8.count
            return true
        }
        return false
    }

    private mutating func name() throws(Failure) -> String {
        let start = position
        while position < bytes.count, Self.isNameByte(bytes[position]) { position += 1 }
        guard position > start else { throw Failure(line: line, reason: "expected a name") }
        return String(decoding: bytes[start..<position], as: UTF8.self)
    }

    private static func isNameByte(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
            || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
            || byte == UInt8(ascii: ":") || byte >= 0x80
    }

    private mutating func skipSpace() {
        while position < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[position]) { advance() }
    }

    private mutating func element() throws(Failure) -> XMLTag {
        let startLine = line
        position += 1  // <
        var element = XMLTag(name: try name(), attributes: [:], children: [], line: startLine)
        while true {
            skipSpace()
            guard position < bytes.count else {
                throw Failure(line: startLine, reason: "<\(element.name)> is not closed")
            }
            if starts(with: "/>") {
                position += 2
                return element
            }
            if bytes[position] == UInt8(ascii: ">") {
                position += 1
                break
            }
            let attribute = try name()
            skipSpace()
            guard position < bytes.count, bytes[position] == UInt8(ascii: "=") else {
                throw Failure(line: line, reason: "attribute \(attribute) of <\(element.name)> has no value")
            }
            position += 1
            skipSpace()
            guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") || bytes[position] == UInt8(ascii: "'")
            else { throw Failure(line: line, reason: "the value of \(attribute) is not quoted") }
            let quote = bytes[position]
            position += 1
            let start = position
            while position < bytes.count, bytes[position] != quote { advance() }
            guard position < bytes.count else {
                throw Failure(line: startLine, reason: "the value of \(attribute) is not closed")
            }
            guard element.attributes[attribute] == nil else {
                throw Failure(line: line, reason: "attribute \(attribute) twice in <\(element.name)>")
            }
            element.attributes[attribute] = try decode(bytes[start..<position])
            position += 1
        }
        while true {
            skipText()
            guard position < bytes.count else {
                throw Failure(line: startLine, reason: "<\(element.name)> is not closed")
            }
            if try skipMarkup() { continue }
            if starts(with: "</") {
                position += 2
                let closing = try name()
                skipSpace()
                guard closing == element.name, position < bytes.count, bytes[position] == UInt8(ascii: ">") else {
                    throw Failure(
                        line: line, reason: "</\(closing)> closes <\(element.name)> of line \(startLine)")
                }
                position += 1
                return element
            }
            element.children.append(try self.element())
        }
    }

    private func decode(_ raw: ArraySlice<UInt8>) throws(Failure) -> String {
        let text = String(decoding: raw, as: UTF8.self)
        guard text.contains("&") else { return text }
        var result = ""
        var rest = Substring(text)
        while let ampersand = rest.firstIndex(of: "&") {
            result += rest[..<ampersand]
            guard let semicolon = rest[ampersand...].firstIndex(of: ";") else {
                throw Failure(line: line, reason: "'&' without ';' in an attribute value")
            }
            let entity = rest[rest.index(after: ampersand)..<semicolon]
            switch entity {
            case "lt": result += "<"
            case "gt": result += ">"
            case "amp": result += "&"
            case "quot": result += "\""
            case "apos": result += "'"
            default:
                let number: UInt32? =
                    entity.hasPrefix("#x")
                    ? UInt32(entity.dropFirst(2), radix: 16) : entity.hasPrefix("#") ? UInt32(entity.dropFirst()) : nil
                guard let number, let scalar = Unicode.Scalar(number) else {
                    throw Failure(line: line, reason: "unknown entity &\(entity);")
                }
                result.unicodeScalars.append(scalar)
            }
            rest = rest[rest.index(after: semicolon)...]
        }
        return result + rest
    }
}
