import AsyncHTTPClient
import GatewayCore
import GatewayStore
import HTTPTypes
import Hummingbird
import Logging
import Prometheus
import ServiceLifecycle
import SessionValidation

/// Builds the gateway: the one function both `serve` and the tests call.
///
/// - Parameters:
///   - configuration: the effective configuration (`GatewayConfiguration(providers:)`, `.load(...)`).
///   - registry: where `/metrics` reads from; `main` bootstraps swift-metrics onto the same registry.
///   - httpClient: the client for provider calls; the shared client by default.
///   - onServerRunning: called with the bound port (useful with port 0).
public func buildApplication(
    configuration: GatewayConfiguration,
    logger: Logger,
    registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(),
    httpClient: HTTPClient = .shared,
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) async throws -> some ApplicationProtocol {
    // The store first: validation consults its revocations (through a short cache) on every request.
    let store = try await configuration.store.open(logger: logger)
    let revocations = StoreRevocationList(
        store: store, ttl: configuration.sessions.revocationCacheTTL,
        retention: configuration.sessions.revocationRetention, logger: logger)
    let validator = try SessionValidator(
        issuers: configuration.issuers, settings: configuration.validation, httpClient: httpClient, logger: logger,
        revocations: revocations)
    let lifecycle = try await buildMFALifecycle(
        configuration: configuration, validator: validator, httpClient: httpClient, logger: logger, store: store)
    let sessionSecurity = SessionSecurityService(
        directory: lifecycle.service.directory, store: store, revocations: revocations, validator: validator,
        settings: configuration.sessions, logger: logger)
    let backChannelLogout = BackChannelLogoutController(
        validator: validator, store: store, revocations: revocations, settings: configuration.sessions, logger: logger)
    let router = buildRouter(
        validator: validator, apiKeys: APIKeyVerifier(keys: configuration.apiKeys), registry: registry,
        homeOrganisations: HomeOrganisationResolver(directory: lifecycle.service.directory, logger: logger),
        lifecycle: lifecycle.service, sms: lifecycle.sms, store: lifecycle.store, sessionSecurity: sessionSecurity,
        backChannelLogout: backChannelLogout, accessLog: configuration.accessLog ? logger : nil)

    var services: [any Service] = [KeyRefreshService(validator: validator)]
    services.append(SMSReconciliationService(service: lifecycle.sms, interval: .seconds(30)))
    services.append(lifecycle.storeService)
    // After the store's service, so that graceful shutdown stops pruning before the store closes.
    services.append(
        StorePruningService(
            store: store, retention: configuration.store.retention, interval: configuration.store.pruneInterval,
            maxBatches: configuration.store.pruneMaxBatches, logger: logger))

    return Application(
        router: router,
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "zitadel-gateway"),
        services: services,
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? configuration.port) },
        logger: logger)
}

/// The gateway's routes and middleware, shared by the application and router-level tests.
func buildRouter(
    validator: SessionValidator, apiKeys: APIKeyVerifier, registry: PrometheusCollectorRegistry,
    homeOrganisations: HomeOrganisationResolver, lifecycle: MFALifecycleService? = nil, sms: SMSEnrolmentService? = nil,
    store: (any GatewayStore)? = nil, sessionSecurity: SessionSecurityService? = nil,
    backChannelLogout: BackChannelLogoutController? = nil, accessLog: Logger? = nil
)
    -> Router<GatewayRequestContext>
{
    let router = Router(context: GatewayRequestContext.self)
    router.add(middleware: RequestIdMiddleware())
    // Metrics and the access log outside the problem mapping, so that refusals count with the status actually sent.
    router.add(middleware: RequestObservationMiddleware(accessLog: accessLog))
    let methodTable = RouteMethodTable()
    router.add(middleware: ProblemMiddleware(routes: methodTable))
    OpsController(validator: validator, registry: registry, openAPI: OpsController.loadOpenAPI()).addRoutes(to: router)
    // Outside the authenticated group: the logout token is the credential; no bearer token, no MFA gate.
    backChannelLogout?.addRoutes(to: router)
    let v1 = router.group("/v1").add(
        middleware: AuthenticationMiddleware(validator: validator, apiKeys: apiKeys, homeOrganisations: homeOrganisations))
    // Served whatever the caller's MFA state: the session, the lifecycle and SMS enrolment (how a user remedies
    // it), and the caller's own sessions (signing out always works).
    SessionController(validator: validator).addRoutes(to: v1)
    if let lifecycle { MFALifecycleController(service: lifecycle).addRoutes(to: v1) }
    if let sms { SMSEnrolmentController(service: sms).addRoutes(to: v1) }
    if let sessionSecurity { SessionSecurityController(service: sessionSecurity).addOwnSessionRoutes(to: v1) }
    // Every other route is behind the MFA gate (when the lifecycle is configured).
    let gated = lifecycle.map { v1.group().add(middleware: MFARemediationMiddleware(service: $0)) } ?? v1
    if let store { AuditController(store: store).addRoutes(to: gated) }
    if let sessionSecurity { SessionSecurityController(service: sessionSecurity).addAdministrationRoutes(to: gated) }
    methodTable.load(router.routes.map { (path: $0.path.description, method: $0.method.rawValue) })
    return router
}
