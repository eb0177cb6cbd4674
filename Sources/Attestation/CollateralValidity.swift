import Foundation
import SwiftASN1

/// When a set of collateral stops being current: the earliest `nextUpdate` of the TCB Info, the QE Identity and the
/// two CRLs. A cache may serve the collateral until then and must fetch it again afterwards.
public struct CollateralValidity: Sendable, Hashable {
    public let tcbInfoNextUpdate: Date
    public let qeIdentityNextUpdate: Date
    public let pckCRLNextUpdate: Date
    public let rootCACRLNextUpdate: Date

    public var earliestNextUpdate: Date {
        min(tcbInfoNextUpdate, qeIdentityNextUpdate, pckCRLNextUpdate, rootCACRLNextUpdate)
    }

    public init(of collateral: Collateral) throws(CollateralSourceError) {
        tcbInfoNextUpdate = try Self.jsonNextUpdate(collateral.tcbInfo, component: "TCB Info")
        qeIdentityNextUpdate = try Self.jsonNextUpdate(collateral.qeIdentity, component: "QE Identity")
        pckCRLNextUpdate = try Self.crlNextUpdate(collateral.pckCRL, component: "PCK CRL")
        rootCACRLNextUpdate = try Self.crlNextUpdate(collateral.rootCACRL, component: "Root CA CRL")
    }

    private struct NextUpdateField: Decodable {
        let nextUpdate: String
    }

    private static func jsonNextUpdate(_ json: [UInt8], component: String) throws(CollateralSourceError) -> Date {
        let field: NextUpdateField
        do {
            field = try JSONDecoder().decode(NextUpdateField.self, from: Data(json))
        } catch {
            throw .expiryUnreadable(component: component, reason: "no 'nextUpdate' string in its JSON")
        }
        guard let date = try? Date(field.nextUpdate, strategy: .iso8601) else {
            throw .expiryUnreadable(
                component: component, reason: "nextUpdate '\(field.nextUpdate)' is not an RFC 3339 time such as 2025-07-19T10:56:11Z")
        }
        return date
    }

    /// Reads `nextUpdate` from a DER CertificateList (RFC 5280 §5.1): the Time after `thisUpdate` in TBSCertList.
    private static func crlNextUpdate(_ der: [UInt8], component: String) throws(CollateralSourceError) -> Date {
        do {
            let root = try DER.parse(der)
            guard case .constructed(let certificateList) = root.content,
                let tbs = certificateList.first(where: { _ in true }),
                case .constructed(let tbsFields) = tbs.content
            else {
                throw CollateralSourceError.expiryUnreadable(component: component, reason: "not a DER CertificateList")
            }
            let times = tbsFields.filter { $0.identifier == .utcTime || $0.identifier == .generalizedTime }
            guard times.count >= 2 else {
                throw CollateralSourceError.expiryUnreadable(
                    component: component, reason: "it has no nextUpdate; Intel CRLs always carry one")
            }
            return try date(of: times[1])
        } catch let error as CollateralSourceError {
            throw error
        } catch {
            throw .expiryUnreadable(component: component, reason: "DER does not parse (\(error))")
        }
    }

    private static func date(of node: ASN1Node) throws -> Date {
        var components = DateComponents()
        if node.identifier == .utcTime {
            let time = try UTCTime(derEncoded: node, withIdentifier: .utcTime)
            (components.year, components.month, components.day) = (time.year, time.month, time.day)
            (components.hour, components.minute, components.second) = (time.hours, time.minutes, time.seconds)
        } else {
            let time = try GeneralizedTime(derEncoded: node, withIdentifier: .generalizedTime)
            (components.year, components.month, components.day) = (time.year, time.month, time.day)
            (components.hour, components.minute, components.second) = (time.hours, time.minutes, time.seconds)
        }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        guard let date = calendar.date(from: components) else { throw ASN1Error.invalidASN1Object(reason: "bad time") }
        return date
    }
}
