import AsyncHTTPClient
import Crypto
import GatewayStore
import Logging
import ServiceLifecycle
import SessionValidation
import ZitadelClient

/// The MFA lifecycle's parts, built once per application.
struct MFALifecycleParts {
    var service: MFALifecycleService
    var sms: SMSEnrolmentService
    var store: any GatewayStore
    /// Closes the store after graceful shutdown.
    var storeService: StoreService
}

/// Opens the store (running migrations) and builds the Zitadel client from the loaded configuration.
///
/// Without a Zitadel credential the gateway still starts: every lookup then fails and snapshots say
/// `unavailable`, which the log states once at start-up.
func buildMFALifecycle(
    configuration: GatewayConfiguration, validator: SessionValidator, httpClient: HTTPClient, logger: Logger,
    store openedStore: (any GatewayStore)? = nil
) async throws -> MFALifecycleParts {
    let store: any GatewayStore
    if let openedStore {
        store = openedStore
    } else {
        store = try await configuration.store.open(logger: logger)
    }
    let settings = configuration.zitadel
    let credential = settings.credential
    if credential == nil {
        logger.warning("No Zitadel credential (zitadel.pat or zitadel.keyFile): MFA lifecycle lookups are unavailable")
    }
    var directory: ZitadelClient?
    if let credential, let url = settings.url ?? configuration.issuers.first?.issuer {
        do {
            directory = try ZitadelClient(
                configuration: ZitadelClientConfiguration(
                    baseURL: url, credential: credential, timeout: settings.timeout, retries: settings.retries),
                httpClient: httpClient, logger: logger)
        } catch {
            throw ConfigurationError("zitadel.keyFile holds no usable RSA private key")
        }
    }
    let service = MFALifecycleService(
        directory: directory, store: store, validator: validator, settings: configuration.mfa,
        cacheTTL: settings.cacheTTL, logger: logger)
    let numberKey: SymmetricKey
    if let configured = configuration.sms.numberKey, !configured.isEmpty {
        numberKey = SymmetricKey(data: SHA256.hash(data: Array(configured.utf8)))
    } else {
        let candidate = SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }
        numberKey = SymmetricKey(data: try await store.sharedSecret(named: "sms.numberKey", candidate: candidate))
    }
    let sms = SMSEnrolmentService(
        phoneAPI: directory, directory: directory, store: store, lifecycle: service, settings: configuration.sms,
        numberKey: numberKey, leaseSeconds: configuration.smsForwardLeaseSeconds, logger: logger)
    return MFALifecycleParts(service: service, sms: sms, store: store, storeService: StoreService(store: store))
}
