import Configuration
import SessionValidation

extension OpaqueAdmissionSettings {
    /// Reads the budgets for introspecting opaque tokens not seen before, from `reader` scoped to
    /// `validation.opaqueTokens`, and checks them.
    ///
    /// Keys: `maxConcurrent` (64), `globalRate` (200 per second), `globalBurst` (400), `callerAddressHeader` (none:
    /// no per-address budget), `perAddressRate` (5 per second), `perAddressBurst` (20).
    init(reader: ConfigReader) throws(ConfigurationError) {
        let defaults = OpaqueAdmissionSettings()
        let header = reader.string(forKey: "callerAddressHeader")
        self.init(
            maxConcurrent: reader.int(forKey: "maxConcurrent", default: defaults.maxConcurrent),
            globalRate: reader.double(forKey: "globalRate", default: defaults.globalRate),
            globalBurst: reader.double(forKey: "globalBurst", default: defaults.globalBurst),
            callerAddressHeader: header?.isEmpty == true ? nil : header,
            perAddressRate: reader.double(forKey: "perAddressRate", default: defaults.perAddressRate),
            perAddressBurst: reader.double(forKey: "perAddressBurst", default: defaults.perAddressBurst))
        try validate()
    }
}
