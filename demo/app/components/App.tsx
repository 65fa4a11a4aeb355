import { useSelector } from 'react-redux';
import { auth } from '../auth';
import type { RootState } from '../store';
import { Dashboard } from './Dashboard';
import { LoginPage } from './LoginPage';

/**
 * Signed out (never signed in, logged out, or the refresh failed): the login page. While a session
 * is restored after a reload (cookie mode), the dashboard, whose activity panel shows the restore.
 */
export function App() {
  const status = useSelector((state: RootState) => auth.selectState(state).status);
  return status === 'unauthenticated' ? <LoginPage /> : <Dashboard />;
}
