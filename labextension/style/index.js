import './base.css';
import './variables.css';
import './lint.css';
