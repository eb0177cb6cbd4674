import Foundation
import SwiftASN1

/// Calendar arithmetic for the UTC timestamps found in collateral, done by hand because Foundation's date parsers are
/// slow, and locale- and platform-dependent.
enum UTCTimestamp {
    /// Seconds since 1970 for a proleptic Gregorian UTC date and time (Howard Hinnant's days-from-civil).
    static func seconds(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) -> Int64 {
        let shiftedYear = month <= 2 ? year - 1 : year
        let era = (shiftedYear >= 0 ? shiftedYear : shiftedYear - 399) / 400
        let yearOfEra = shiftedYear - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = Int64(era) * 146_097 + Int64(dayOfEra) - 719_468
        return days * 86_400 + Int64(hour * 3600 + minute * 60 + second)
    }

    /// Parses RFC 3339 UTC text as Intel writes it (`2025-06-19T10:56:11Z`, optionally with fractional seconds, or a
    /// `+00:00` offset), to whole Unix seconds. Nil when the text is not of that form.
    static func parse(_ text: String) -> Int64? {
        let digits = Array(text.utf8)
        guard digits.count >= 20, digits[4] == UInt8(ascii: "-"), digits[7] == UInt8(ascii: "-"),
            digits[10] == UInt8(ascii: "T") || digits[10] == UInt8(ascii: "t"),
            digits[13] == UInt8(ascii: ":"), digits[16] == UInt8(ascii: ":")
        else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for index in range {
                let digit = digits[index]
                guard digit >= UInt8(ascii: "0"), digit <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int(digit - UInt8(ascii: "0"))
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
            let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
            (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        var index = 19
        if digits[index] == UInt8(ascii: ".") {
            index += 1
            while index < digits.count, digits[index] >= UInt8(ascii: "0"), digits[index] <= UInt8(ascii: "9") { index += 1 }
        }
        var offsetSeconds = 0
        let rest = digits[index...]
        if rest.elementsEqual([UInt8(ascii: "Z")]) || rest.elementsEqual([UInt8(ascii: "z")]) {
            offsetSeconds = 0
        } else if rest.count == 6, rest.first == UInt8(ascii: "+") || rest.first == UInt8(ascii: "-"),
            let hours = number(index + 1..<index + 3), let minutes = number(index + 4..<index + 6)
        {
            offsetSeconds = (hours * 3600 + minutes * 60) * (rest.first == UInt8(ascii: "+") ? 1 : -1)
        } else {
            return nil
        }
        return seconds(year: year, month: month, day: day, hour: hour, minute: minute, second: second) - Int64(offsetSeconds)
    }

    /// Unix seconds of a DER UTCTime or GeneralizedTime node (fractions dropped).
    static func seconds(of node: ASN1Node) throws -> Int64 {
        if node.identifier == UTCTime.defaultIdentifier {
            let time = try UTCTime(derEncoded: node)
            return seconds(year: time.year, month: time.month, day: time.day, hour: time.hours, minute: time.minutes, second: time.seconds)
        }
        let time = try GeneralizedTime(derEncoded: node)
        return seconds(year: time.year, month: time.month, day: time.day, hour: time.hours, minute: time.minutes, second: time.seconds)
    }

    static func iso8601(_ seconds: Int64) -> String {
        Date(timeIntervalSince1970: TimeInterval(seconds)).formatted(.iso8601)
    }
}

extension Date {
    /// Whole Unix seconds, rounded down, as every collateral comparison is made in seconds.
    var unixSeconds: Int64 { Int64(timeIntervalSince1970.rounded(.down)) }
}
