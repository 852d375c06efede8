// Routes with names (typed via RouteName) and a guard that sends a session without a token to the
// login screen. Pages are lazy chunks so the first paint only loads the overview.
import { createRouter, createWebHistory, type RouteRecordRaw } from 'vue-router'
import { useConnectionStore } from './stores/connection'

export const routes = [
  { path: '/login', name: 'login', component: () => import('./pages/LoginPage.vue'), meta: { title: 'Log in', public: true } },
  { path: '/', name: 'overview', component: () => import('./pages/OverviewPage.vue'), meta: { title: 'Overview' } },
  { path: '/markets/:marketId?', name: 'markets', component: () => import('./pages/MarketsPage.vue'), props: true, meta: { title: 'Markets' } },
  { path: '/orders', name: 'orders', component: () => import('./pages/OrdersPage.vue'), meta: { title: 'Orders' } },
  { path: '/positions', name: 'positions', component: () => import('./pages/PositionsPage.vue'), meta: { title: 'Positions' } },
  { path: '/strategies/:name?', name: 'strategies', component: () => import('./pages/StrategiesPage.vue'), props: true, meta: { title: 'Strategies' } },
  { path: '/analytics', name: 'analytics', component: () => import('./pages/AnalyticsPage.vue'), meta: { title: 'Analytics' } },
  { path: '/risk', name: 'risk', component: () => import('./pages/RiskPage.vue'), meta: { title: 'Risk & settings' } },
  { path: '/dashboards', name: 'dashboards', component: () => import('./pages/DashboardsPage.vue'), meta: { title: 'Dashboards' } },
  { path: '/:rest(.*)*', redirect: '/' },
] as const satisfies readonly RouteRecordRaw[]

export type RouteName = Exclude<(typeof routes)[number] extends infer R ? (R extends { name: infer N } ? N : never) : never, undefined>

/** The nav bar's entries, in order (login is not one). */
export const NAV: { name: RouteName; title: string }[] = routes.flatMap((r) =>
  'name' in r && !('public' in r.meta) ? [{ name: r.name, title: r.meta.title }] : [],
)

export function makeRouter(base = import.meta.env.BASE_URL) {
  const router = createRouter({ history: createWebHistory(base), routes: routes as unknown as RouteRecordRaw[] })
  router.beforeEach((to) => {
    const connection = useConnectionStore()
    if (!to.meta.public && !connection.loggedIn) return { name: 'login', query: { next: to.fullPath } }
    return true
  })
  return router
}
