import { createAction } from '@reduxjs/toolkit';

/**
 * The sign-in form was sent: a new session starts in this tab. The panels start afresh on it, not on
 * the package's `tokensSet`, which also comes when another tab signs in or refreshes and this one
 * takes its tokens over.
 */
export const loginRequested = createAction<{ username: string; password: string }>('session/loginRequested');
