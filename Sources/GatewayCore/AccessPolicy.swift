/// The portal's route-access policy: portal roles and API-key integrations hold permissions, and each route
/// (method and path template) needs one permission, optionally within a tenant and with MFA compliance.
///
/// One policy gates the gateway's own routes, forward auth for the portal's reverse proxy and the backend's
/// batch decisions, so what the portal shows and what it enforces cannot drift apart. Checks run in an order
/// that never reveals an out-of-scope resource: route, tenant scope (404), permission (403), MFA (403).
public struct AccessPolicy: Sendable {
    /// Every permission the policy names, with its description.
    public let permissions: [String: String]
    public let roles: [PortalRole: Set<String>]
    /// Held by every portal session, whatever its roles (a session with no portal role included).
    public let anySession: Set<String>
    /// API-key integrations by their configured key name.
    public let integrations: [String: Set<String>]
    /// Most specific first: at each segment a literal beats a parameter, so `/users/me` wins over `/users/{id}`.
    public let routes: [RouteRule]

    /// Checks the policy as a whole; each mistake is reported with where it is (`routes[3].permission`).
    /// `routeLocations` names each route in reports (default `routes[i]`).
    public init(
        permissions: [String: String], roles: [PortalRole: Set<String>], anySession: Set<String> = [],
        integrations: [String: Set<String>], routes: [RouteRule], routeLocations: [String]? = nil
    ) throws(AccessPolicyError) {
        let location = { (index: Int) in routeLocations?[index] ?? "routes[\(index)]" }
        var problems: [AccessPolicyError.Problem] = []
        for (role, held) in roles.sorted(by: { $0.key < $1.key }) {
            for name in held.sorted() where permissions[name] == nil {
                problems.append(.init(location: "roles.\(role.rawValue)", message: "unknown permission '\(name)'"))
            }
        }
        for (integration, held) in integrations.sorted(by: { $0.key < $1.key }) {
            for name in held.sorted() where permissions[name] == nil {
                problems.append(
                    .init(location: "integrations.\(integration)", message: "unknown permission '\(name)'"))
            }
        }
        var seen: [String: Int] = [:]
        for (index, rule) in routes.enumerated() {
            if permissions[rule.permission] == nil {
                problems.append(
                    .init(location: "\(location(index)).permission", message: "unknown permission '\(rule.permission)'"))
            }
            let key = rule.route.normalised
            if let first = seen[key] {
                problems.append(
                    .init(
                        location: location(index),
                        message: "\(rule.route) is the same route as \(location(first)) (\(routes[first].route))"))
            } else {
                seen[key] = index
            }
        }
        guard problems.isEmpty else { throw AccessPolicyError(problems: problems) }
        self.permissions = permissions
        self.roles = roles
        self.anySession = anySession
        self.integrations = integrations
        self.routes = routes.sorted { $0.route.isMoreSpecific(than: $1.route) }
    }

    /// The rule for a request, with the template's parameter values; nil when no route matches.
    public func rule(method: String, path: String) -> (rule: RouteRule, parameters: [String: String])? {
        let segments = RouteTemplate.split(path)
        for rule in routes {
            if let parameters = rule.route.match(method: method, segments: segments) { return (rule, parameters) }
        }
        return nil
    }

    /// Whether any route at `path` serves another method (for a 405 rather than a 404).
    public func methods(at path: String) -> Set<String> {
        let segments = RouteTemplate.split(path)
        return Set(routes.filter { $0.route.matchesPath(segments) }.map(\.route.method))
    }

    /// The decision for a method and path.
    public func decide(method: String, path: String, caller: AccessCaller) -> AccessDecision {
        guard let (rule, parameters) = rule(method: method, path: path) else {
            return AccessDecision(outcome: .deny(.noSuchRoute), rule: nil, tenant: nil)
        }
        return decide(rule: rule, parameters: parameters, caller: caller)
    }

    /// The decision for a matched route.
    public func decide(rule: RouteRule, parameters: [String: String], caller: AccessCaller) -> AccessDecision {
        let tenant: String?
        switch rule.tenant {
        case .none:
            tenant = nil
        case .activeTenant:
            guard let active = caller.activeTenant else {
                return AccessDecision(outcome: .deny(.tenantRequired), rule: rule, tenant: nil)
            }
            tenant = active
        case .pathParameter(let name):
            // A tenant the caller may not see answers as if the route did not exist.
            guard let value = parameters[name], caller.tenants.contains(value) else {
                return AccessDecision(outcome: .deny(.outOfScope), rule: rule, tenant: nil)
            }
            tenant = value
        }
        guard permissions(of: caller, in: tenant).contains(rule.permission) else {
            return AccessDecision(outcome: .deny(.permissionMissing), rule: rule, tenant: tenant)
        }
        if rule.requiresMFACompliance, case .portal(_, _, _, let compliant) = caller, !compliant {
            return AccessDecision(outcome: .deny(.mfaRemediationRequired), rule: rule, tenant: tenant)
        }
        return AccessDecision(outcome: .allow, rule: rule, tenant: tenant)
    }

    /// The decision for holding a permission in the caller's active tenant (or, without one, by the caller's
    /// role): the backend renders navigation from it. MFA compliance counts when any route of the permission
    /// requires it.
    public func decide(permission: String, caller: AccessCaller) -> AccessOutcome {
        guard self.permissions[permission] != nil else { return .deny(.unknownPermission) }
        guard permissions(of: caller, in: caller.activeTenant).contains(permission) else {
            return .deny(.permissionMissing)
        }
        if case .portal(_, _, _, let compliant) = caller, !compliant,
            routes.contains(where: { $0.permission == permission && $0.requiresMFACompliance })
        {
            return .deny(.mfaRemediationRequired)
        }
        return .allow
    }

    /// The permissions the caller holds in `tenant` (its roles there), or by its role when no tenant applies.
    public func permissions(of caller: AccessCaller, in tenant: String?) -> Set<String> {
        switch caller {
        case .portal(let rolesByTenant, let role, _, _):
            let held: Set<PortalRole> = tenant.map { rolesByTenant[$0] ?? [] } ?? (role.map { [$0] } ?? [])
            return held.reduce(into: anySession) { $0.formUnion(roles[$1] ?? []) }
        case .integration(let name, let tenants, _):
            if let tenant, !tenants.contains(tenant) { return [] }
            return integrations[name] ?? []
        }
    }
}

/// Who asks, as the policy sees it.
public enum AccessCaller: Sendable, Equatable {
    /// A portal session: its roles per tenant in scope, its role outside a tenant, its active tenant, and
    /// whether it meets its MFA policy.
    case portal(rolesByTenant: [String: Set<PortalRole>], role: PortalRole?, activeTenant: String?, mfaCompliant: Bool)
    /// A trusted server-side integration (API key) and the tenants it is bound to.
    case integration(name: String, tenants: Set<String>, activeTenant: String?)

    public var activeTenant: String? {
        switch self {
        case .portal(_, _, let tenant, _), .integration(_, _, let tenant): tenant
        }
    }

    /// The tenants the caller may act in.
    public var tenants: Set<String> {
        switch self {
        case .portal(let rolesByTenant, _, _, _): Set(rolesByTenant.keys)
        case .integration(_, let tenants, _): tenants
        }
    }
}

/// Allow, or deny with a stable reason.
public enum AccessOutcome: Sendable, Equatable {
    case allow
    case deny(AccessDenial)
}

/// Why a request is denied. The raw value is the reason code in batch decisions and the metrics label.
public enum AccessDenial: String, Sendable, CaseIterable {
    /// No route of the policy matches: nothing is behind it as far as the caller can tell.
    case noSuchRoute = "no_such_route"
    /// The route names a tenant the caller may not act in: answered exactly like `noSuchRoute`.
    case outOfScope = "out_of_scope"
    /// A tenant-scoped route without an active tenant (a partner who has not chosen a client).
    case tenantRequired = "tenant_required"
    case permissionMissing = "permission_missing"
    case mfaRemediationRequired = "mfa_remediation_required"
    case unknownPermission = "unknown_permission"
}

/// A decision with the rule and tenant it was taken for.
public struct AccessDecision: Sendable, Equatable {
    public var outcome: AccessOutcome
    public var rule: RouteRule?
    public var tenant: String?
}

/// One route of the policy.
public struct RouteRule: Sendable, Equatable {
    public var route: RouteTemplate
    public var permission: String
    public var tenant: TenantScope
    public var requiresMFACompliance: Bool

    public init(route: RouteTemplate, permission: String, tenant: TenantScope, requiresMFACompliance: Bool) {
        self.route = route
        self.permission = permission
        self.tenant = tenant
        self.requiresMFACompliance = requiresMFACompliance
    }
}

/// Where a route's tenant comes from.
public enum TenantScope: Sendable, Equatable {
    /// Self-service: the caller's own data, in no tenant.
    case none
    /// The request's active tenant (`X-AiDial-Tenant`, or the caller's only one).
    case activeTenant
    /// The named path parameter (`/v1/tenants/{orgId}/…`); a tenant out of the caller's scope is 404.
    case pathParameter(String)
}

/// A method and a path template such as `GET /v1/tenants/{orgId}/users/{userId}/sessions`.
public struct RouteTemplate: Sendable, Equatable, CustomStringConvertible {
    public enum Segment: Sendable, Equatable {
        case literal(String)
        case parameter(String)
    }

    public static let methods: Set<String> = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

    public let method: String
    public let segments: [Segment]

    /// Parses and checks a template: a known method, an absolute path without query, empty segments or dot
    /// segments, parameters written `{name}` and named once.
    public init(method: String, path: String) throws(AccessPolicyError.Problem) {
        guard Self.methods.contains(method) else {
            throw .init(location: "method", message: "'\(method)' is not one of \(Self.methods.sorted().joined(separator: ", "))")
        }
        guard path.first == "/", !path.contains("?"), !path.contains("#") else {
            throw .init(location: "path", message: "'\(path)' must be an absolute path without query or fragment")
        }
        var segments: [Segment] = []
        var names: Set<String> = []
        let parts = path.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
        for part in parts where !(parts.count == 1 && part.isEmpty) {
            if part.isEmpty || part == "." || part == ".." {
                throw .init(location: "path", message: "'\(path)' has an empty or dot segment")
            }
            if part.first == "{" {
                let name = part.dropFirst().dropLast()
                guard part.last == "}", !name.isEmpty,
                    name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" })
                else {
                    throw .init(location: "path", message: "'\(part)' in '\(path)' is not a parameter such as {orgId}")
                }
                guard names.insert(String(name)).inserted else {
                    throw .init(location: "path", message: "parameter {\(name)} appears twice in '\(path)'")
                }
                segments.append(.parameter(String(name)))
            } else {
                guard !part.contains("{"), !part.contains("}") else {
                    throw .init(location: "path", message: "'\(part)' in '\(path)' mixes text and a parameter")
                }
                segments.append(.literal(String(part)))
            }
        }
        self.method = method
        self.segments = segments
    }

    public var parameterNames: [String] {
        segments.compactMap { if case .parameter(let name) = $0 { name } else { nil } }
    }

    public var description: String {
        "\(method) /"
            + segments.map { segment in
                switch segment {
                case .literal(let text): text
                case .parameter(let name): "{\(name)}"
                }
            }.joined(separator: "/")
    }

    /// The template with parameter names erased: two templates that match the same requests share it.
    var normalised: String {
        "\(method) /" + segments.map { if case .literal(let text) = $0 { text } else { "{}" } }.joined(separator: "/")
    }

    func isMoreSpecific(than other: RouteTemplate) -> Bool {
        for (mine, theirs) in zip(segments, other.segments) {
            switch (mine, theirs) {
            case (.literal, .parameter): return true
            case (.parameter, .literal): return false
            default: continue
            }
        }
        return segments.count > other.segments.count
    }

    /// A request path's segments; a trailing slash is not a segment, percent-encoding is kept as sent.
    static func split(_ path: String) -> [Substring] {
        let pathOnly = path.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        return pathOnly.split(separator: "/", omittingEmptySubsequences: true)
    }

    func matchesPath(_ request: [Substring]) -> Bool {
        guard request.count == segments.count else { return false }
        return zip(segments, request).allSatisfy { segment, value in
            if case .literal(let text) = segment { return text == value }
            return true
        }
    }

    func match(method: String, segments request: [Substring]) -> [String: String]? {
        guard method == self.method || (method == "HEAD" && self.method == "GET"), matchesPath(request) else {
            return nil
        }
        var parameters: [String: String] = [:]
        for (segment, value) in zip(segments, request) {
            if case .parameter(let name) = segment { parameters[name] = String(value) }
        }
        return parameters
    }
}

/// Mistakes in an access policy, each with where it is.
public struct AccessPolicyError: Error, Sendable, Equatable, CustomStringConvertible {
    public struct Problem: Error, Sendable, Equatable, CustomStringConvertible {
        public var location: String
        public var message: String

        public init(location: String, message: String) {
            self.location = location
            self.message = message
        }

        public var description: String { "\(location): \(message)" }
    }

    public var problems: [Problem]

    public init(problems: [Problem]) {
        self.problems = problems
    }

    public var description: String { problems.map(\.description).joined(separator: "; ") }
}

/// The policy file's shape (`Config/access-policy.yaml`), decoded by the configuration and checked here.
///
/// `roles` may also name `any_session`: permissions every portal session holds, whatever its roles (its own
/// session, MFA lifecycle, session management). A route's `tenant` is `none` (default), `active` or a path
/// parameter such as `{orgId}`; `mfa` is `required` (default: blocked while mandatory MFA is unmet) or
/// `exempt` (the remediation and self-service routes).
public struct AccessPolicyDocument: Decodable, Sendable, Equatable {
    public struct Route: Decodable, Sendable, Equatable {
        public var route: String
        public var permission: String
        public var tenant: String?
        public var mfa: String?

        public init(route: String, permission: String, tenant: String? = nil, mfa: String? = nil) {
            self.route = route
            self.permission = permission
            self.tenant = tenant
            self.mfa = mfa
        }
    }

    public static let anySessionKey = "any_session"

    public var permissions: [String: String]
    public var roles: [String: [String]]
    public var integrations: [String: [String]]?
    public var routes: [Route]

    public init(
        permissions: [String: String], roles: [String: [String]], integrations: [String: [String]]? = nil,
        routes: [Route]
    ) {
        self.permissions = permissions
        self.roles = roles
        self.integrations = integrations
        self.routes = routes
    }

    /// The checked policy, or every mistake with its location.
    public func policy() throws(AccessPolicyError) -> AccessPolicy {
        var problems: [AccessPolicyError.Problem] = []
        var roleGrants: [PortalRole: Set<String>] = [:]
        // Unknown shared permissions are reported once, under any_session (below).
        let shared = Set(roles[Self.anySessionKey] ?? []).filter { permissions[$0] != nil }
        for (name, held) in roles.sorted(by: { $0.key < $1.key }) where name != Self.anySessionKey {
            guard let role = PortalRole(rawValue: name) else {
                let known = ([Self.anySessionKey] + PortalRole.allCases.map(\.rawValue)).joined(separator: ", ")
                problems.append(.init(location: "roles.\(name)", message: "not a portal role (one of \(known))"))
                continue
            }
            roleGrants[role, default: []].formUnion(held)
        }
        for (name, held) in roles where name == Self.anySessionKey {
            for permission in held.sorted() where permissions[permission] == nil {
                problems.append(.init(location: "roles.\(name)", message: "unknown permission '\(permission)'"))
            }
        }
        var rules: [RouteRule] = []
        var locations: [String] = []
        for (index, route) in routes.enumerated() {
            let location = "routes[\(index)]"
            let parts = route.route.split(separator: " ", omittingEmptySubsequences: true)
            guard parts.count == 2 else {
                problems.append(
                    .init(location: "\(location).route", message: "'\(route.route)' is not 'METHOD /path/{parameter}'"))
                continue
            }
            let template: RouteTemplate
            do {
                template = try RouteTemplate(method: String(parts[0]), path: String(parts[1]))
            } catch {
                problems.append(.init(location: "\(location).route", message: error.message))
                continue
            }
            let tenant: TenantScope
            switch route.tenant ?? "none" {
            case "none": tenant = .none
            case "active": tenant = .activeTenant
            case let value where value.first == "{" && value.last == "}":
                let name = String(value.dropFirst().dropLast())
                guard template.parameterNames.contains(name) else {
                    problems.append(
                        .init(location: "\(location).tenant", message: "\(template) has no parameter {\(name)}"))
                    continue
                }
                tenant = .pathParameter(name)
            case let value:
                problems.append(
                    .init(
                        location: "\(location).tenant",
                        message: "'\(value)' is not none, active or a path parameter such as {orgId}"))
                continue
            }
            let requiresMFA: Bool
            switch route.mfa ?? "required" {
            case "required": requiresMFA = true
            case "exempt": requiresMFA = false
            case let value:
                problems.append(.init(location: "\(location).mfa", message: "'\(value)' is not required or exempt"))
                continue
            }
            rules.append(
                RouteRule(route: template, permission: route.permission, tenant: tenant, requiresMFACompliance: requiresMFA))
            locations.append(location)
        }
        let policy: AccessPolicy
        do {
            policy = try AccessPolicy(
                permissions: permissions, roles: roleGrants, anySession: shared,
                integrations: (integrations ?? [:]).mapValues(Set.init), routes: rules, routeLocations: locations)
        } catch {
            throw AccessPolicyError(problems: problems + error.problems)
        }
        guard problems.isEmpty else { throw AccessPolicyError(problems: problems) }
        return policy
    }
}
