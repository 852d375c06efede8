import { createPinia } from 'pinia'
import { createApp } from 'vue'
import App from './App.vue'
import { makeRouter } from './router'
import { useConnectionStore } from './stores/connection'
import './styles.css'

const app = createApp(App)
app.use(createPinia())
app.use(makeRouter())
// A token remembered from an earlier visit: go live straight away (a refused token sends the
// user back to the login screen, see App.vue).
useConnectionStore().connect()
app.mount('#app')
