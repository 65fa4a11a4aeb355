import { useSelector } from 'react-redux';
import { auth } from '../auth';
import type { RootState } from '../store';
import { Dashboard } from './Dashboard';
import { LoginPage } from './LoginPage';

/** Signed out (never signed in, logged out, or the refresh failed): the login page. */
export function App() {
  const status = useSelector((state: RootState) => auth.selectState(state).status);
  return status === 'unauthenticated' ? <LoginPage /> : <Dashboard />;
}
